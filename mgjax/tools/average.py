"""Average the weights of several text-to-video checkpoints into one (paper §3.3: the final Movie Gen model averages
SFT runs that differ in data, hyperparameters and pre-training checkpoint, as LLaMa 3 does).

python -m mgjax.tools.average --config configs/NAME.py --run RUN_A[:STEP] --run RUN_B[:STEP] ... --out OUT
                              [--weights 0.5 0.5]

Every run must have the config's architecture. Both the raw and the EMA weights are averaged (in float32, then cast
back); frozen parts (`rest`: frozen text encoders) come from the first run. OUT is a run directory that `sample.py`
and the evaluators read like a training run: `checkpoints/STEP` (STEP = the first run's) with `params`, `ema` and
`rest`, plus the first run's config.json and tokenizer files. No optimizer state is written, so OUT is for sampling
and evaluation; a training run cannot resume from it.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import sys

import jax
import jax.numpy as jnp

from mgjax.config import Config, save_config
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.checkpoint import Checkpointer, checkpoint_dir, open_existing
from mgjax.train.state import build_model, split_model


def parse_run(spec: str) -> tuple[pathlib.Path, int | None]:
    """"DIR" or "DIR:STEP"."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit():
        return pathlib.Path(head), int(tail)
    return pathlib.Path(spec), None


def average_runs(cfg: Config, runs: list[str], out: str | pathlib.Path, weights: list[float] | None = None,
                 devices=None) -> int:
    """-> the step written to OUT."""
    if len(runs) < 2:
        raise UserError("averaging needs at least two --run")
    weights = [1.0 / len(runs)] * len(runs) if weights is None else list(weights)
    if len(weights) != len(runs) or any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise UserError(f"--weights must be {len(runs)} non-negative numbers summing to 1, got {weights}")
    out = pathlib.Path(out)
    with jax.set_mesh(make_mesh(cfg.mesh, devices)):
        _, params, rest = split_model(cfg, build_model(cfg))
        target = {"params": params, "ema": params, "rest": rest}
        total, first_rest, first_step, first_dir = None, None, None, None
        for spec, w in zip(runs, weights):
            directory, step = parse_run(spec)
            ckpt = open_existing(directory)
            step = ckpt.latest_step() if step is None else step
            try:
                restored = ckpt.restore(target, items=("params", "ema", "rest"), step=step)
            except (ValueError, KeyError, FileNotFoundError) as e:
                raise UserError(f"{spec}: cannot restore step {step} with this config's architecture "
                                f"({type(e).__name__}: {str(e)[:200]})") from None
            finally:
                ckpt.close()
            part = jax.tree.map(lambda x: x.astype(jnp.float32) * w, {k: restored[k] for k in ("params", "ema")})
            total = part if total is None else jax.tree.map(jnp.add, total, part)
            if first_rest is None:
                first_rest, first_step, first_dir = restored["rest"], step, directory
        averaged = jax.tree.map(lambda a, ref: a.astype(ref.dtype), total, {"params": params, "ema": params})
        if out.exists():
            shutil.rmtree(out)
        writer = Checkpointer(checkpoint_dir(out), keep=1, async_save=False)
        writer.save(first_step, {**averaged, "rest": first_rest},
                    meta={"config": cfg.name, "task": cfg.task, "step": first_step, "averaged": list(runs),
                          "weights": weights})
        writer.close()
    save_config(cfg, out)  # the config the averaged weights were restored with (--config and its --set)
    for f in first_dir.glob("tokenizer_*.model"):
        shutil.copy2(f, out / f.name)
    return first_step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--run", action="append", required=True, metavar="DIR[:STEP]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights", type=float, nargs="+", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    step = average_runs(load_config(args.config, args.set), args.run, args.out, args.weights)
    print(f"averaged {len(args.run)} runs into {args.out} (step {step})", flush=True)
    return 0


if __name__ == "__main__":
    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
