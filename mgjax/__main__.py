"""`python -m mgjax <command> ...`; `python -m mgjax --help` lists the commands (mgjax/commands.py)."""

from mgjax.commands import main

main()
