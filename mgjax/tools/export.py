"""Export a run's weights alone (no optimizer or discriminator state), as safetensors or as a small Orbax run.

python -m mgjax export --config configs/tae_shapes.py --workdir runs/tae_shapes --out exports/tae_shapes

`--format safetensors` (the default) writes OUT/model.safetensors with the items the run's task exports
(`Task.export_items`: the TAE's `params`; text-to-video's `ema` and the frozen `rest`), each tensor named by its
'/'-joined path (`ema/backbone/blocks/0/...`) and kept in its dtype, the config name, task, step and mgjax version in
the file's metadata (mgjax/checkpoint/safetensors_weights.py). `--format orbax` writes `checkpoints/STEP` with the
task's inference items (text-to-video: `params`, `ema` and `rest`); assets/tae_shapes was made this way. Either way
the run's config.json, latent statistics and tokenizer files go beside the weights, and OUT loads like the original
run (`codec.checkpoint=OUT`, `sample --workdir OUT`).

OUT is written as OUT.partial and renamed once complete; an existing OUT is replaced only with `overwrite`.
"""

from __future__ import annotations

import pathlib
import shutil

import jax

from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir, open_existing
from mgjax.checkpoint.safetensors_weights import write_export
from mgjax.config.schema import Config
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks import task_for

CARRIED_FILES = ("config.json", "latent_stats.json", "tokenizer_*.model")
FORMATS = ("safetensors", "orbax")


def export_run(cfg: Config, workdir: str | pathlib.Path, out: str | pathlib.Path, format: str = "safetensors",
               overwrite: bool = False) -> int:
    """OUT/model.safetensors with the task's `export_items` (safetensors), or OUT/checkpoints/STEP with its
    `inference_items` (orbax), and the run's carried files; -> the exported step."""
    if format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    workdir, out = _check_out(workdir, out, overwrite)
    task = task_for(cfg, abstract=True)
    items = task.export_items if format == "safetensors" else task.inference_items
    weights, step = _restore(cfg, task, workdir, items)
    partial = _partial(out)
    meta = {"config": cfg.name, "task": cfg.task, "step": step}
    if format == "safetensors":
        write_export(weights, partial, meta)
    else:
        writer = Checkpointer(checkpoint_dir(partial), keep=1, async_save=False)
        writer.save(step, weights, meta={**meta, "exported_from": str(workdir)})
        writer.close()
    _finish(workdir, partial, out)
    return step


def export_safetensors(cfg: Config, workdir: str | pathlib.Path, out: str | pathlib.Path,
                       overwrite: bool = False) -> int:
    return export_run(cfg, workdir, out, "safetensors", overwrite)


def export_params(cfg: Config, workdir: str | pathlib.Path, out: str | pathlib.Path, overwrite: bool = False) -> int:
    return export_run(cfg, workdir, out, "orbax", overwrite)


def _check_out(workdir, out, overwrite: bool) -> tuple[pathlib.Path, pathlib.Path]:
    """Before anything is read: OUT is neither the run nor a folder holding it, and exists only with `overwrite`."""
    workdir, out = pathlib.Path(workdir), pathlib.Path(out)
    if out.resolve() == workdir.resolve():
        raise UserError(f"--out {out} is the run itself; export to another directory")
    if out.resolve() in workdir.resolve().parents:
        raise UserError(f"--out {out} holds the run {workdir}; export to another directory")
    if out.exists() and not overwrite:
        raise UserError(f"--out {out} already exists; pass --overwrite to replace it")
    return workdir, out


def _restore(cfg: Config, task, workdir: pathlib.Path, items) -> tuple[dict, int]:
    """The run's latest `items`, on one device (the weights alone; no optimizer state is read)."""
    ckpt = open_existing(workdir)
    mesh = make_mesh(cfg.mesh, jax.devices()[:1])
    abstract = task.abstract_state(mesh)
    with jax.set_mesh(mesh):
        try:
            weights = ckpt.restore(abstract, items=items, config=cfg)
            step = ckpt.restored_step
        finally:
            ckpt.close()
    return weights, step


def _partial(out: pathlib.Path) -> pathlib.Path:
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def _finish(workdir: pathlib.Path, partial: pathlib.Path, out: pathlib.Path) -> None:
    """Copy the run's carried files into the complete export, then put it in OUT's place."""
    for pattern in CARRIED_FILES:
        for path in workdir.glob(pattern):
            shutil.copy2(path, partial / path.name)
    if out.exists() or out.is_symlink():  # only with overwrite (checked first): the old one goes once the new is in
        old = out.with_name(out.name + ".old")
        _remove(old)
        out.rename(old)
        partial.rename(out)
        _remove(old)
    else:
        partial.rename(out)


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
