"""Train a model: python train.py --config configs/NAME.py [--set key=value ...] [--workdir DIR]

The same as `python -m mgjax train ...` (mgjax/commands.py).
"""

import sys

from mgjax.commands import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
