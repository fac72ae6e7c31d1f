"""Spatial upsampling with MultiDiffusion windows: seconds and peak memory against clip length, beside one pass over
the whole clip where the model can take it.

`python bench/upsample_windows.py [--config configs/shapes_upsample_tiny.py] [--frames 14 16 64 256] [--steps 20]
[--repeats 1] [--max-single-pass-frames 64]`

Each length runs the sampler's Euler step (`flow/multidiffusion.make_window_step`: the model on one window at a time,
`sample.window_frames` frames sharing `sample.window_overlap`, blended) for `--steps` steps, after the image VAE has
encoded the bilinearly upsampled input and before it decodes, both `window_frames` frames at a time (what
`pipelines/upsample.py` does). The single pass is the same step with one window as long as the clip, which only a
clip no longer than the positional table (model.max_patches[0] frames, 14 here) can have. Peak and temp
memory are XLA's accounting of the compiled step (arguments + outputs + temporaries, `compiled.memory_analysis()`):
the latent state grows with the clip, the temporaries are the model's activations, which windows keep flat. Weights
are random: speed and memory do not depend on them. Results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/shapes_upsample_tiny.py")
    parser.add_argument("--frames", type=int, nargs="+", default=[14, 16, 64, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--max-single-pass-frames", type=int, default=64,
                        help="longer clips are compiled in one pass for their memory but not run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    harness.setup()
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from mgjax.checkpoint.restore import load_codec
    from mgjax.flow.multidiffusion import make_window_step
    from mgjax.flow.path import model_velocity
    from mgjax.flow.schedules import make_schedule
    from mgjax.models.t2v import split_model
    from mgjax.models.upsampler import build_upsampler, condition_latent
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config

    cfg = load_config(args.config, args.set)
    d, m, s = cfg.data, cfg.model, cfg.sample
    low_size = (d.height // m.scale, d.width // m.scale)
    schedule = make_schedule(s.schedule, args.steps, min(s.linear_steps, args.steps - 1), s.linear_reference_steps)
    print(f"{cfg.name}: {low_size[0]}x{low_size[1]} -> {d.height}x{d.width}, windows {s.window_frames}/"
          f"{s.window_overlap}, {args.steps} steps; {jax.devices()[0].device_kind}")
    print("| frames | mode | peak MiB | temp MiB | seconds | frames per s |")
    print("|---|---|---|---|---|---|")
    mib = lambda b: b / 2 ** 20  # noqa: E731
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        codec = load_codec(cfg.codec)
        graphdef, params, rest = split_model(cfg, build_upsampler(cfg))
        weights = (params, rest)
        flow = cfg.flow

        def velocity(w, x, t, low, tokens):
            out = nnx.merge(graphdef, *w)(x, t, tokens, low)
            return model_velocity(out, x, t, flow.prediction, flow.sigma_min)

        tokens = [(jnp.ones((1, e.max_length), jnp.int32), jnp.arange(e.max_length)[None] < 8)
                  for e in cfg.text.encoders]
        encode = jax.jit(lambda v: condition_latent(codec, v, d.height, d.width))
        decode = jax.jit(lambda z: codec.decode(z, z.shape[1]))
        for frames in args.frames:
            low_pixels = jax.random.uniform(jax.random.key(0), (1, frames) + low_size + (3,), minval=-1, maxval=1)
            modes = [("windows", s.window_frames, s.window_overlap)]
            if frames <= m.max_patches[0] * m.patch_size[0]:  # one pass needs a positional row per frame
                modes.append(("single pass", frames, 0))
            for mode, window, overlap in modes:
                step = make_window_step(velocity, frames, window, overlap, s.window_ramp)
                x = jnp.zeros((1, frames) + codec.geometry.latent_shape(1, d.height, d.width)[1:])
                compiled = step.lower(weights, x, jnp.float32(0), jnp.float32(0.1), x, tokens).compile()
                peak, temp = harness.compiled_peak_bytes(compiled), compiled.memory_analysis().temp_size_in_bytes
                seconds = "not run"
                if mode == "windows" or frames <= args.max_single_pass_frames:
                    def run():
                        chunk = s.window_frames
                        low = jnp.concatenate([encode(low_pixels[:, i:i + chunk]) for i in range(0, frames, chunk)],
                                              axis=1)
                        state = jax.random.normal(jax.random.key(1), low.shape)
                        for t0, t1 in zip(schedule[:-1], schedule[1:]):
                            state = compiled(weights, state, jnp.float32(t0), jnp.float32(t1), low, tokens)
                        return [np.asarray(decode(state[:, i:i + chunk])) for i in range(0, frames, chunk)]

                    run()  # warm-up: compiles the encode / decode chunk programs
                    times = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        run()
                        times.append(time.perf_counter() - start)
                    seconds = f"{min(times):.2f}"
                rate = "" if seconds == "not run" else f"{frames / float(seconds):.1f}"
                print(f"| {frames} | {mode} ({window}/{overlap}) | {mib(peak):.0f} | {mib(temp):.0f} | {seconds} | "
                      f"{rate} |", flush=True)


if __name__ == "__main__":
    main()
