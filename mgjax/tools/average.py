"""Average the weights of several runs into one (paper §3.3: the final Movie Gen model averages SFT runs that differ
in data, hyperparameters and pre-training checkpoint, as LLaMa 3 does).

python -m mgjax average --config configs/NAME.py --run RUN_A[:STEP] --run RUN_B[:STEP] ... --out OUT
                        [--weights 0.5 0.5]

Every run must have the config's architecture. The task's averaged items (text-to-video: the raw and the EMA weights)
are averaged in float32, then cast back; its other inference items (frozen text encoders) come from the first run.
OUT is a run directory that sampling and the evaluators read like a training run: `checkpoints/STEP` (STEP = the
first run's) with the inference items, plus the config and the first run's tokenizer files. No optimizer state is
written, so OUT is for sampling and evaluation; a training run cannot resume from it.
"""

from __future__ import annotations

import pathlib
import shutil

import jax
import jax.numpy as jnp

from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir, open_existing
from mgjax.checkpoint.surgery import parse_run
from mgjax.config.load import save_config
from mgjax.config.schema import Config
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for


def average_runs(cfg: Config, runs: list[str], out: str | pathlib.Path, weights: list[float] | None = None,
                 devices=None) -> int:
    """-> the step written to OUT."""
    if len(runs) < 2:
        raise UserError("averaging needs at least two --run")
    weights = [1.0 / len(runs)] * len(runs) if weights is None else list(weights)
    if len(weights) != len(runs) or any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise UserError(f"--weights must be {len(runs)} non-negative numbers summing to 1, got {weights}")
    out = pathlib.Path(out)
    task = task_for(cfg, abstract=True)
    mesh = make_mesh(cfg.mesh, devices)
    abstract = task.abstract_state(mesh)
    items, averaged_items = task.inference_items, task.averaged_items
    with jax.set_mesh(mesh):
        total, first, first_step, first_dir = None, None, None, None
        for spec, w in zip(runs, weights):
            directory, step = parse_run(spec)
            ckpt = open_existing(directory)
            step = ckpt.latest_step() if step is None else step
            try:
                restored = ckpt.restore(abstract, items=items, step=step)
            except (ValueError, KeyError, FileNotFoundError) as e:
                raise UserError(f"{spec}: cannot restore step {step} with this config's architecture "
                                f"({type(e).__name__}: {str(e)[:200]})") from None
            finally:
                ckpt.close()
            part = jax.tree.map(lambda x: x.astype(jnp.float32) * w, {k: restored[k] for k in averaged_items})
            total = part if total is None else jax.tree.map(jnp.add, total, part)
            if first is None:
                first, first_step, first_dir = restored, step, directory
        averaged = jax.tree.map(lambda a, ref: a.astype(ref.dtype), total, {k: first[k] for k in averaged_items})
        if out.exists():
            shutil.rmtree(out)
        writer = Checkpointer(checkpoint_dir(out), keep=1, async_save=False)
        writer.save(first_step, {**first, **averaged},
                    meta={"config": cfg.name, "task": cfg.task, "step": first_step, "averaged": list(runs),
                          "weights": weights})
        writer.close()
    save_config(cfg, out)  # the config the averaged weights were restored with (--config and its --set)
    for f in first_dir.glob("tokenizer_*.model"):
        shutil.copy2(f, out / f.name)
    return first_step
