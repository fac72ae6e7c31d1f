"""Sample videos from a trained run's EMA weights:
python sample.py --config configs/NAME.py --workdir DIR --prompt "a red circle moving left" [--prompt ...]
                 [--out FILE] [--seed N] [--steps N] [--cfg X]

The same as `python -m mgjax sample ...` (mgjax/commands.py).
"""

import sys

from mgjax.commands import main

if __name__ == "__main__":
    main(["sample", *sys.argv[1:]])
