"""TAE encode and decode speed with tiling: frames per second and peak memory per frame size.

    python bench/tae_speed.py [--config configs/tae_paper.py] [--sizes 256 512] [--frames 64] [--dtype bfloat16]
                              [--set model.spatial_tile=256] [--record BENCHMARKS.md]

Encode = `tiled_encode` (32-frame tiles, no overlap) to the posterior mean; decode = `tiled_decode` (32-frame tiles
overlapping by 16, blended), each one jitted program on one device, random weights (speed does not depend on them).
Full size: the paper-size TAE (SD-VAE widths) on 64-frame clips at 256 and 512 px; --size cpu: configs/tae_shapes.py
on 16 frames at 64 px. Peak = XLA's accounting of the compiled program.
"""

from __future__ import annotations

import argparse
import dataclasses

import harness


def load(case: dict):
    from mgjax.train.tasks import load_config

    cfg = load_config(case["config"], case["set"])
    tae = cfg.model if case["dtype"] is None else dataclasses.replace(cfg.model, dtype=case["dtype"])
    return cfg, tae


def measure(case: dict) -> dict:
    """One op at one frame size, in its own process (`--case`)."""
    import jax
    from flax import nnx

    from mgjax.config import MeshConfig
    from mgjax.config.geometry import tae_compression as compression
    from mgjax.models.tae.model import TemporalAutoencoder
    from mgjax.models.tae.tiling import tiled_decode, tiled_encode
    from mgjax.parallel.mesh import make_mesh
    from mgjax.parallel.rules import TAE_RULES, use_rules

    _, tae = load(case)
    ft, fs, _ = compression(tae)
    frames, px = case["frames"], case["px"]
    with jax.set_mesh(make_mesh(MeshConfig(data=1), jax.devices()[:1])), use_rules(TAE_RULES):
        graphdef, state = nnx.split(TemporalAutoencoder(tae, rngs=nnx.Rngs(0)))
        if case["op"] == "encode":
            fn = jax.jit(lambda s, v: tiled_encode(nnx.merge(graphdef, s), v)[0])
            x = jax.random.uniform(jax.random.key(0), (1, frames, px, px, 3), minval=-1.0, maxval=1.0)
        else:
            fn = jax.jit(lambda s, z: tiled_decode(nnx.merge(graphdef, s), z))
            x = jax.random.normal(jax.random.key(1), (1, frames // ft, px // fs, px // fs, tae.latent_channels))
        compiled = fn.lower(state, x).compile()
        timing = harness.timeit(lambda: compiled(state, x), case["warmup"], case["repeats"])
    return harness.timing_row(timing, compiled_peak=harness.compiled_peak_bytes(compiled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="default: configs/tae_paper.py (full), tae_shapes.py (cpu)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--dtype", default=None, choices=("float32", "bfloat16"),
                        help="activations (default: the config's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    harness.add_common_args(parser)
    parser.set_defaults(warmup=1, repeats=3)
    args = parser.parse_args()
    harness.setup()
    from mgjax.config.geometry import tae_compression as compression

    size = harness.resolve_size(args.size)
    full = size == "full"
    base = dict(config=args.config or ("configs/tae_paper.py" if full else "configs/tae_shapes.py"), set=args.set,
                dtype=args.dtype, frames=args.frames or (64 if full else 16), warmup=args.warmup,
                repeats=args.repeats)
    cfg, tae = load(base)
    ft, fs, _ = compression(tae)
    info = harness.device_info()
    rows = []
    for px in args.sizes or ([256, 512] if full else [64]):
        for op in ("encode", "decode"):
            r = harness.run_case(__file__, dict(base, px=px, op=op))
            if "error" in r:  # out of memory at this size, say: report it and go on
                rows.append([px, base["frames"], op, f"failed: {r['error'][:80]}", "-", "-", "-", "-"])
                continue
            rows.append([px, base["frames"], op, f"{base['frames'] / r['median_s']:.1f}", f"{r['median_s']:.3f}",
                         harness.gib(r["compiled_peak"]), harness.gib(r["peak_bytes"]), harness.spread(r)])
    header = ["px", "frames", "op", "frames/s", "s per clip", "XLA peak GiB", "allocator peak GiB", "spread"]
    notes = [f"{cfg.name}: TAE {tae.base_channels} x {tae.channel_mult}, {tae.dtype} activations, compression "
             f"{ft}x{fs}x{fs}; encoder tiles {tae.encode_tile_frames} frames, decoder tiles {tae.decode_tile_frames} "
             f"overlapping {tae.decode_tile_overlap}, spatial tile {tae.spatial_tile or 'off'}; median of "
             f"{args.repeats} after {args.warmup} warm-up, each op and size in its own process."]
    harness.report("TAE: tiled encode and decode speed", info, header, rows, notes, args.record)


if __name__ == "__main__" and not harness.serve_case(measure):
    main()
