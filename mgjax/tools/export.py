"""Export a run's weights alone (no optimizer or discriminator state) as a small, loadable run directory.

python -m mgjax export --config configs/tae_shapes.py --workdir runs/tae_shapes --out assets/tae_shapes

The result has `checkpoints/STEP` with the items the run's task needs for inference (the TAE: `params`; text-to-video:
`params`, `ema` and the frozen `rest`), plus the run's config.json, latent statistics and tokenizer files, so it
loads like the original run (`codec.checkpoint=OUT`, `sample --workdir OUT`). assets/tae_shapes was made this way.
"""

from __future__ import annotations

import pathlib
import shutil

import jax

from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir, open_existing
from mgjax.config.schema import Config
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for

CARRIED_FILES = ("config.json", "latent_stats.json", "tokenizer_*.model")


def export_params(cfg: Config, workdir: str | pathlib.Path, out: str | pathlib.Path) -> int:
    """-> the exported step. OUT must not be the run itself, and is replaced only once the export is complete."""
    workdir, out = pathlib.Path(workdir), pathlib.Path(out)
    if out.resolve() == workdir.resolve():
        raise UserError(f"--out {out} is the run itself; export to another directory")
    task = task_for(cfg, abstract=True)
    ckpt = open_existing(workdir)
    step = ckpt.latest_step()
    mesh = make_mesh(cfg.mesh, jax.devices()[:1])
    abstract = task.abstract_state(mesh)
    with jax.set_mesh(mesh):
        try:
            weights = ckpt.restore(abstract, items=task.inference_items)
        finally:
            ckpt.close()
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        writer = Checkpointer(checkpoint_dir(partial), keep=1, async_save=False)
        writer.save(step, weights, meta={"config": cfg.name, "task": cfg.task, "step": step,
                                         "exported_from": str(workdir)})
        writer.close()
    for pattern in CARRIED_FILES:
        for path in workdir.glob(pattern):
            shutil.copy2(path, partial / path.name)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return step
