"""Train a model: python train.py --config configs/NAME.py [--set key=value ...] [--workdir DIR]"""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="experiment file in configs/")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--workdir", default=None, help="run directory (default: runs/<config name>)")
    parser.add_argument("--cpu-devices", type=int, default=None, help="fake CPU devices for mesh experiments")
    args = parser.parse_args(argv)
    from mgjax.cli import set_global_flags

    set_global_flags(args.cpu_devices)
    from mgjax.parallel.distributed import initialize_from_env

    initialize_from_env()  # multi-host: one process per host, before JAX's backend starts
    from mgjax.config import load_config
    from mgjax.train.loop import train

    cfg = load_config(args.config, args.set)
    train(cfg, args.workdir or f"runs/{cfg.name}")
    return 0


if __name__ == "__main__":
    from mgjax.cli import run_main

    run_main(main, sys.argv[1:])
