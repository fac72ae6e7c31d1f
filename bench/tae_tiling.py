"""Tiled vs untiled TAE decode: peak memory and frames per second as the clip grows, and as the frame grows.

`python bench/tae_tiling.py [--config configs/tae_shapes.py] [--frames 64 256] [--size 256] [--repeats 2]`
`python bench/tae_tiling.py --spatial 512 1024 [--spatial-tile 256] [--spatial-overlap 64] [--frames 8]`

`--spatial`: each frame size decoded untiled, in spatial tiles with their own GroupNorm statistics, and in spatial
tiles with the frame's (`spatial_frame_norm`), with the committed weights (`--weights`, default assets/tae_shapes) on
latents of a held-out Moving Shapes clip, so the table also gives each tiled decode's agreement with the untiled one.

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
    parser.add_argument("--spatial", type=int, nargs="*", default=[], metavar="SIZE",
                        help="frame sizes for the spatial-tile table (instead of the clip-length one)")
    parser.add_argument("--spatial-tile", type=int, default=256)
    parser.add_argument("--spatial-overlap", type=int, default=64)
    parser.add_argument("--weights", default="assets/tae_shapes", help="a TAE run or asset (--spatial)")
    args = parser.parse_args()
    if args.spatial:
        return spatial_table(args)

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


def spatial_table(args) -> None:
    harness.setup()
    import dataclasses
    import os

    import jax
    import numpy as np
    from flax import nnx

    from mgjax.checkpoint.restore import restore_params
    from mgjax.data.moving_shapes import MovingShapes
    from mgjax.eval.metrics import psnr
    from mgjax.models.codec import pixels_to_unit, unit_to_pixels
    from mgjax.models.tae.model import TemporalAutoencoder
    from mgjax.models.tae.tiling import tiled_decode, tiled_encode
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config

    cfg = load_config(args.config, args.set)
    frames = args.frames[0]
    base = dataclasses.replace(cfg.model, spatial_tile=args.spatial_tile, spatial_overlap=args.spatial_overlap)
    print(f"{cfg.name}: weights {args.weights}, {frames} frames, spatial tiles of {args.spatial_tile} px overlapping "
          f"{args.spatial_overlap}; {jax.devices()[0].device_kind}")
    print("| frame px | mode | peak MiB | temp MiB | frames/s | PSNR vs untiled (dB) |")
    print("|---|---|---|---|---|---|")
    # Agreement is against the untiled decode, or where that does not fit in memory, the first tiled mode that does.
    modes = {"untiled": None, "tiles, frame statistics": True, "tiles, own statistics": False}
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")  # host memory (CPU); a GPU's is in its stats
    memory = (jax.devices()[0].memory_stats() or {}).get("bytes_limit", memory)
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        state = nnx.state(restore_params(TemporalAutoencoder(base, rngs=nnx.Rngs(0)), args.weights))
        for size in args.spatial:
            clip = MovingShapes("heldout", num_frames=frames, height=size, width=size, seed=1)[0]["video"]
            model = nnx.merge(nnx.graphdef(TemporalAutoencoder(base, rngs=nnx.Rngs(0))), state)
            z = jax.jit(lambda v: tiled_encode(model, v)[0])(pixels_to_unit(clip[None]))  # untiled needs 96 GiB at 1024
            reference = None
            for mode, frame_norm in modes.items():
                tae = dataclasses.replace(base, spatial_frame_norm=bool(frame_norm))
                graphdef = nnx.graphdef(TemporalAutoencoder(tae, rngs=nnx.Rngs(0)))
                if frame_norm is None:
                    fn = lambda s, z, g=graphdef: nnx.merge(g, s).decode(z)  # noqa: E731
                else:
                    fn = lambda s, z, g=graphdef: tiled_decode(nnx.merge(g, s), z)  # noqa: E731
                compiled = jax.jit(fn).lower(state, z).compile()
                peak, temp = harness.compiled_peak_bytes(compiled), compiled.memory_analysis().temp_size_in_bytes
                mib = lambda b: b / 2 ** 20  # noqa: E731
                if peak > 0.8 * memory:
                    print(f"| {size} | {mode} | {mib(peak):.0f} | {mib(temp):.0f} | does not fit in "
                          f"{memory / 2 ** 30:.0f} GiB | - |", flush=True)
                    continue
                video = np.asarray(unit_to_pixels(compiled(state, z)[0]))
                reference = video if reference is None else reference
                agreement = "-" if reference is video else f"{float(np.mean(psnr(reference, video))):.1f}"
                timing = harness.timeit(lambda: compiled(state, z), 0, args.repeats)
                print(f"| {size} | {mode} | {mib(peak):.0f} | {mib(temp):.0f} | {frames / timing.median:.2f} | "
                      f"{agreement} |", flush=True)


if __name__ == "__main__":
    main()
