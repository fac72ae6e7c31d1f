"""Tiled vs untiled TAE decode: peak memory and frames per second as the clip grows.

`python bench/tae_tiling.py [--config configs/tae_shapes.py] [--frames 64 256] [--size 256] [--repeats 2]`

Peak memory is XLA's own accounting of the compiled decode (arguments + outputs + temporaries, from
`compiled.memory_analysis()`), which is exact and free of allocator noise; the output video itself grows with the clip,
so the table also shows the temporaries alone, which is what tiling bounds. Weights are random: speed and memory do not
depend on them. Results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/tae_shapes.py")
    parser.add_argument("--frames", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    from mgjax.cli import set_global_flags

    set_global_flags()
    import jax
    from flax import nnx

    from mgjax.config import load_config
    from mgjax.models.tae.model import TemporalAutoencoder, compression
    from mgjax.models.tae.tiling import tiled_decode
    from mgjax.parallel.mesh import make_mesh

    cfg = load_config(args.config, args.set)
    tae = cfg.codec.tae
    ft, fs, _ = compression(tae)
    print(f"{cfg.name}: TAE {tae.base_channels}x{tae.channel_mult}, compression {ft}x{fs}x{fs}, decode tiles "
          f"{tae.decode_tile_frames} frames overlapping {tae.decode_tile_overlap}; {jax.devices()[0].device_kind}")
    print("| frames | mode | peak MiB | temp MiB | output MiB | frames/s |")
    print("|---|---|---|---|---|---|")
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = TemporalAutoencoder(tae, rngs=nnx.Rngs(0))
        graphdef, state = nnx.split(model)
        for frames in args.frames:
            z = jax.random.normal(jax.random.key(0), (1, frames // ft, args.size // fs, args.size // fs,
                                                      tae.latent_channels))
            for mode in ("untiled", "tiled"):
                if mode == "tiled":
                    fn = lambda s, z: tiled_decode(nnx.merge(graphdef, s), z)
                else:
                    fn = lambda s, z: nnx.merge(graphdef, s).decode(z)
                compiled = jax.jit(fn).lower(state, z).compile()
                mem = compiled.memory_analysis()
                mib = lambda b: b / 2 ** 20
                peak = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
                jax.block_until_ready(compiled(state, z))
                t0 = time.perf_counter()
                for _ in range(args.repeats):
                    jax.block_until_ready(compiled(state, z))
                fps = frames * args.repeats / (time.perf_counter() - t0)
                print(f"| {frames} | {mode} | {mib(peak):.0f} | {mib(mem.temp_size_in_bytes):.0f} | "
                      f"{mib(mem.output_size_in_bytes):.0f} | {fps:.1f} |", flush=True)


if __name__ == "__main__":
    main()
