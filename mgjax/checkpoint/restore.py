"""Weights for inference: restore a module's parameters from a run or a safetensors export of one, and the codec a
config names with its weights."""

from __future__ import annotations

import json
import pathlib

from flax import nnx

from mgjax.checkpoint.orbax import check_run, open_existing
from mgjax.checkpoint.safetensors_weights import export_step, is_export, load_exported
from mgjax.config.codec import CodecConfig
from mgjax.errors import UserError
from mgjax.models.codec import CODECS, LatentCodec

LATENT_STATS = "latent_stats.json"


def restore_params(module: nnx.Module, workdir: str | pathlib.Path, item: str = "params",
                   step: int | None = None) -> nnx.Module:
    """`module` with the parameters of a run's checkpoint item (default its latest step), or of the item in a
    safetensors export (`python -m mgjax export`); build the module concretely under the mesh it should live on
    (restoring onto nnx.eval_shape's abstract mesh fails, shared/stack.md)."""
    graphdef, params = nnx.split(module)
    if is_export(workdir):
        if step is not None and step != export_step(workdir):
            raise UserError(f"export {str(workdir)!r} holds step {export_step(workdir)}, not step {step}")
        nnx.replace_by_pure_dict(params, load_exported({item: nnx.to_pure_dict(params)}, workdir)[item])
        return nnx.merge(graphdef, params)
    ckpt = open_existing(workdir)
    try:
        restored = ckpt.restore({item: nnx.to_pure_dict(params)}, items=(item,), step=step)[item]
    finally:
        ckpt.close()
    nnx.replace_by_pure_dict(params, restored)
    return nnx.merge(graphdef, params)


def read_latent_stats(workdir: str | pathlib.Path) -> dict:
    path = pathlib.Path(workdir) / LATENT_STATS
    if not path.is_file():
        raise UserError(f"{str(path)!r} not found: measure the codec's latent statistics first with "
                        f"`python -m mgjax eval --config CONFIG --workdir {workdir}`")
    return json.loads(path.read_text())


def load_codec(cfg: CodecConfig) -> LatentCodec:
    """The codec of `cfg.kind`; a kind with weights restores them from `cfg.checkpoint`, a trained run of it or a
    safetensors export of one."""
    kind = CODECS[cfg.kind]
    if not kind.has_weights:
        return kind.build(cfg, None, None)
    if not cfg.checkpoint:
        raise UserError(f"codec.kind={cfg.kind} needs codec.checkpoint=DIR, a trained run of that codec (e.g. "
                        f"assets/tae_shapes, or `python -m mgjax train --config configs/tae_shapes.py --workdir DIR`)")
    if not is_export(cfg.checkpoint):
        check_run(cfg.checkpoint)  # before building the module: a missing run is the likelier mistake
    return kind.build(cfg, restore_params(kind.module(cfg), cfg.checkpoint), read_latent_stats(cfg.checkpoint))
