"""Tiled vs untiled TAE decode: peak memory and frames per second as the clip grows.

`python bench/tae_tiling.py [--config configs/tae_shapes.py] [--frames 64 256] [--size 256] [--repeats 2]`

Peak memory is XLA's own accounting of the compiled decode (arguments + outputs + temporaries, from
`compiled.memory_analysis()`), which is exact and free of allocator noise; the output video itself grows with the clip,
so the table also shows the temporaries alone, which is what tiling bounds. Weights are random: speed and memory do not
depend on them. Results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/tae_shapes.py")
    parser.add_argument("--frames", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    harness.setup()
    import jax
    from flax import nnx

    from mgjax.config.geometry import tae_compression as compression
    from mgjax.models.tae.model import TemporalAutoencoder
    from mgjax.models.tae.tiling import tiled_decode
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config

    cfg = load_config(args.config, args.set)
    tae = cfg.model
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
                temp = compiled.memory_analysis().temp_size_in_bytes
                output = compiled.memory_analysis().output_size_in_bytes
                timing = harness.timeit(lambda: compiled(state, z), 1, args.repeats)
                mib = lambda b: b / 2 ** 20  # noqa: E731
                print(f"| {frames} | {mode} | {mib(harness.compiled_peak_bytes(compiled)):.0f} | {mib(temp):.0f} | "
                      f"{mib(output):.0f} | {frames / timing.median:.1f} |", flush=True)


if __name__ == "__main__":
    main()
