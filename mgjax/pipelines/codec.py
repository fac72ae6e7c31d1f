"""The codec a config names, with its weights: a TAE comes from a trained TAE run (checkpoint + latent statistics)."""

from __future__ import annotations

import json
import pathlib

from flax import nnx

from mgjax.config.schema import CodecConfig
from mgjax.errors import UserError
from mgjax.models.codec.base import LatentCodec, build_codec
from mgjax.models.codec.tae_codec import TAECodec
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.train.checkpoint import open_existing

LATENT_STATS = "latent_stats.json"


def restore_tae(cfg: CodecConfig, workdir: str | pathlib.Path) -> TemporalAutoencoder:
    """The TAE of a training run, with its latest weights (call under the mesh it should live on)."""
    ckpt = open_existing(workdir)
    # Built concretely (a TAE is small): restoring onto nnx.eval_shape's abstract mesh fails (shared/stack.md).
    graphdef, params = nnx.split(TemporalAutoencoder(cfg.tae, rngs=nnx.Rngs(0)))
    restored = ckpt.restore({"params": nnx.to_pure_dict(params)}, items=("params",))["params"]
    ckpt.close()
    nnx.replace_by_pure_dict(params, restored)
    return nnx.merge(graphdef, params)


def read_latent_stats(workdir: str | pathlib.Path) -> dict:
    path = pathlib.Path(workdir) / LATENT_STATS
    if not path.is_file():
        raise UserError(f"{str(path)!r} not found: measure the TAE's latent statistics first with "
                        f"`python -m mgjax.eval.tae_recon --config CONFIG --workdir {workdir}`")
    return json.loads(path.read_text())


def load_codec(cfg: CodecConfig) -> LatentCodec:
    if cfg.kind != "tae":
        return build_codec(cfg)
    if not cfg.checkpoint:
        raise UserError("codec.kind=tae needs codec.checkpoint=DIR, a trained TAE run "
                        "(`python train.py --config configs/tae_shapes.py --workdir DIR`)")
    model = restore_tae(cfg, cfg.checkpoint)
    stats = read_latent_stats(cfg.checkpoint)
    return TAECodec(model, stats["shift"], stats["scale"])
