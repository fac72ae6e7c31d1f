"""Weights for inference: restore a module's parameters from a run or a safetensors export of one, the codec a
config names with its weights, and a trained CLIP (the learned evaluator other systems share)."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import jax
from flax import nnx

from mgjax.checkpoint.orbax import check_run, open_existing
from mgjax.checkpoint.safetensors_weights import export_step, is_export, load_exported
from mgjax.config.clip import CLIPModelConfig
from mgjax.config.codec import CodecConfig
from mgjax.config.load import read_json_config
from mgjax.config.mesh import MeshConfig
from mgjax.config.vision import VisionEncoderConfig
from mgjax.errors import UserError
from mgjax.models.clip import CLIPModel, CLIPScorer
from mgjax.models.codec import CODECS, LatentCodec
from mgjax.models.text.stack import load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh

LATENT_STATS = "latent_stats.json"


def check_weights(workdir: str | pathlib.Path) -> None:
    """A one-line error when `workdir` is neither a run with checkpoints nor a safetensors export (checked before
    anything is built: a wrong directory is the likelier mistake)."""
    if not is_export(workdir):
        check_run(workdir)


def load_weights(target: dict, workdir: str | pathlib.Path, step: int | None = None, config=None) -> tuple[dict, int]:
    """(the items of `target` restored from a training run's checkpoint (default its latest intact step) or from a
    safetensors export (`python -m mgjax export`), the step they are from)."""
    if is_export(workdir):
        if step is not None and step != export_step(workdir):
            raise UserError(f"export {str(workdir)!r} holds step {export_step(workdir)}, not step {step}")
        return load_exported(target, workdir), export_step(workdir)
    ckpt = open_existing(workdir)
    try:
        return ckpt.restore(target, step=step, config=config), ckpt.restored_step
    finally:
        ckpt.close()


def restore_params(module: nnx.Module, workdir: str | pathlib.Path, item: str = "params",
                   step: int | None = None) -> nnx.Module:
    """`module` with the parameters of a run's checkpoint item or an export's (`load_weights`); build the module
    concretely under the mesh it should live on (restoring onto nnx.eval_shape's abstract mesh fails,
    shared/stack.md)."""
    graphdef, params = nnx.split(module)
    nnx.replace_by_pure_dict(params, load_weights({item: nnx.to_pure_dict(params)}, workdir, step)[0][item])
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
    check_weights(cfg.checkpoint)
    return kind.build(cfg, restore_params(kind.module(cfg), cfg.checkpoint), read_latent_stats(cfg.checkpoint))


def load_clip(path: str | pathlib.Path, batch_size: int = 64) -> CLIPScorer:
    """A trained CLIP (a `clip` task's run, or its export) for inference, replicated on the first device: its
    config.json, its tokenizer and its weights (the run's latest intact step)."""
    path = pathlib.Path(path)
    config = path / "config.json"
    task = json.loads(config.read_text()).get("task") if config.is_file() else None
    if task != "clip":
        what = f"a {task} run" if task else "not a run (no config.json)"
        raise UserError(f"{str(path)!r} is {what}, not a CLIP: point at a `clip` run or its export (e.g. `python "
                        f"train.py --config configs/shapes_clip_tiny.py --workdir DIR`)")
    check_weights(path)
    cfg = read_json_config(config, lambda _: {"model": CLIPModelConfig, "loss": None})
    tokenizer = load_or_train_tokenizers((cfg.model.text,), path)[0]
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        model = restore_params(CLIPModel(cfg.model, rngs=nnx.Rngs(0)), path)
    return CLIPScorer(model, tokenizer, cfg.model, batch_size)


def clip_vision_params(path: str | pathlib.Path, vision: VisionEncoderConfig) -> dict:
    """The vision tower's weights (a pure dict) of the CLIP at `path`, which must be the tower `vision` describes."""
    scorer = load_clip(path)
    theirs, ours = (dataclasses.replace(v, checkpoint="") for v in (scorer.cfg.vision, vision))
    if theirs != ours:
        differ = [f"{f.name} {getattr(ours, f.name)} (the CLIP's {getattr(theirs, f.name)})"
                  for f in dataclasses.fields(ours) if getattr(ours, f.name) != getattr(theirs, f.name)]
        raise UserError(f"model.vision differs from the vision tower of the CLIP at {str(path)!r}: "
                        f"{'; '.join(differ)}; copy that run's model.vision")
    return nnx.to_pure_dict(scorer.params)["vision"]
