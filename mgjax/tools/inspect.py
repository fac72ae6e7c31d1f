"""Parameter counts per component, tokens per sample and forward FLOPs, from `jax.eval_shape` (nothing is allocated).

python -m mgjax.tools.inspect --config configs/moviegen_video_30b.py [--set key=value ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import jax
import numpy as np
from flax import nnx

from mgjax.config import Config, MeshConfig
from mgjax.models.codec.base import latent_grid


def _count(tree) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def abstract_model(cfg: Config):
    """The model as ShapeDtypeStructs on a one-device mesh: shapes only, whatever the size."""
    from mgjax.models.t2v import TextToVideo
    from mgjax.parallel.mesh import make_mesh

    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        return nnx.eval_shape(lambda: TextToVideo(cfg, rngs=nnx.Rngs(0)))


def parameter_counts(cfg: Config) -> dict[str, int]:
    """Backbone parts and each in-model text encoder, from the abstract parameter tree."""
    params = nnx.to_pure_dict(nnx.state(abstract_model(cfg), nnx.Param))
    bb = params["backbone"]
    blocks = bb["blocks"]
    if cfg.model.scan_layers:
        per = blocks
    else:  # unscanned: merge the per-layer dicts
        per = {k: [b[k] for b in blocks.values()] for k in next(iter(blocks.values()))}
    counts = {
        "backbone/self_attention": _count(per["self_attn"]),
        "backbone/cross_attention": _count(per["cross_attn"]),
        "backbone/ffn": _count(per["mlp"]),
        "backbone/adaln": _count(per["modulation"]) + _count(bb["shared_mod"]) + _count(bb["final_modulation"]),
        "backbone/norms": _count({k: v for k, v in per.items() if k.endswith("norm")}),
        "backbone/embeddings": _count(bb["patch_embed"]) + _count(bb["pos_embed"]) + _count(bb["t_embed"]),
        "backbone/text_projections": _count(bb["text_proj"]),
        "backbone/head": _count(bb["head"]),
    }
    counts["backbone"] = _count(bb)
    assert counts["backbone"] == sum(v for k, v in counts.items() if k.startswith("backbone/"))
    encoders = params.get("text_encoders", {})
    for i, enc in enumerate(cfg.text.encoders):
        key = i if i in encoders else str(i)
        counts[f"text/{enc.name}"] = _count(encoders[key]) if enc.kind != "external" and key in encoders else 0
    return counts


def tae_parameter_counts(cfg: Config) -> dict[str, int]:
    from mgjax.models.tae.model import TemporalAutoencoder
    from mgjax.parallel.mesh import make_mesh

    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        model = nnx.eval_shape(lambda: TemporalAutoencoder(cfg.codec.tae, rngs=nnx.Rngs(0)))
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    return {"tae/encoder": _count(params["encoder"]), "tae/decoder": _count(params["decoder"]), "tae": _count(params)}


def token_counts(cfg: Config, frames: int | None = None, height: int | None = None, width: int | None = None) -> dict:
    """Latent grid and transformer tokens for a clip (default: the configured data size)."""
    d = cfg.data
    frames, height, width = frames or d.num_frames, height or d.height, width or d.width
    lt, lh, lw, lc = latent_grid(cfg.codec, frames, height, width)
    pt, ph, pw = cfg.model.patch_size
    grid = (-(-lt // pt), lh // ph, lw // pw)
    return {"frames": frames, "height": height, "width": width, "latent": (lt, lh, lw, lc), "patch_grid": grid,
            "video_tokens": int(np.prod(grid)), "text_tokens": sum(e.max_length for e in cfg.text.encoders)}


def forward_flops(cfg: Config, tokens: int, text_tokens: int) -> dict[str, float]:
    """Analytic forward FLOPs per sample (2 per multiply-add) of the backbone: dense matmuls and attention.

    XLA's cost analysis counts a scanned layer once, so model FLOPs are computed here (tests check this formula
    against XLA on an unscanned model).
    """
    m = cfg.model
    n, t, d, f, L = tokens, text_tokens, m.width, m.ffn_width, m.num_layers
    patch_in = int(np.prod(m.patch_size)) * m.in_channels
    per_layer_dense = 2 * n * (4 * d * d + 2 * d * d + 3 * d * f) + 2 * t * 2 * d * d
    per_layer_attention = 4 * n * n * d + 4 * n * t * d
    text_proj = sum(2 * e.max_length * e.width * d for e in cfg.text.encoders)
    io = 2 * n * patch_in * d * 2 + text_proj
    dense, attention = L * per_layer_dense + io, L * per_layer_attention
    return {"dense": float(dense), "attention": float(attention), "total": float(dense + attention)}


def report(cfg: Config) -> dict:
    if cfg.task == "tae":
        d = cfg.data
        return {"config": cfg.name, "parameters": tae_parameter_counts(cfg),
                "tae": {"compression": tuple(cfg.codec.factors), "frames": d.num_frames, "height": d.height,
                        "width": d.width, "latent": latent_grid(cfg.codec, d.num_frames, d.height, d.width)}}
    params = parameter_counts(cfg)
    if cfg.codec.kind == "tae":
        params.update(tae_parameter_counts(cfg))
    tokens = token_counts(cfg)
    flops = forward_flops(cfg, tokens["video_tokens"], tokens["text_tokens"])
    return {"config": cfg.name, "parameters": params, "tokens": tokens, "forward_flops_per_sample": flops,
            "forward_gflops_per_token": flops["total"] / tokens["video_tokens"] / 1e9}


def format_report(r: dict) -> str:
    lines = [f"config: {r['config']}", "parameters:"]
    lines += [f"  {k:<28} {v:>16,d}  ({v / 1e9:.3f}B)" for k, v in r["parameters"].items()]
    if "tae" in r:
        t = r["tae"]
        return "\n".join(lines + [f"TAE: compression {t['compression']}; {t['frames']} frames x {t['height']}x"
                                   f"{t['width']} -> latent {t['latent']}"])
    t = r["tokens"]
    lines += [f"video: {t['frames']} frames x {t['height']}x{t['width']} -> latent {t['latent']} -> patches "
              f"{t['patch_grid']} = {t['video_tokens']:,d} tokens (+ {t['text_tokens']} text tokens)"]
    f = r["forward_flops_per_sample"]
    lines += [f"forward FLOPs per sample: {f['total']:.4g} (dense {f['dense']:.4g}, attention {f['attention']:.4g}); "
              f"{r['forward_gflops_per_token']:.1f} GFLOP per video token"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    r = report(load_config(args.config, args.set))
    print(json.dumps(r, indent=2) if args.json else format_report(r))
    return 0


if __name__ == "__main__":
    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
