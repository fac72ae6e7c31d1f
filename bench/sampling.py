"""Sampling speed: seconds per clip for 50 Euler steps on the linear-quadratic schedule with classifier-free guidance
(conditional and unconditional as one doubled batch), beside the PyTorch peer doing the same in the same run.

    python bench/sampling.py [--model 1b] [--tokens 2k] [--steps 50] [--record BENCHMARKS.md]

The default full size is the issue's: the 1B backbone on a 256 px, 4 s clip (64 frames at 16 fps -> 8 x 32 x 32
latents -> 2,048 tokens), bf16, one clip. The loop is mgjax's `euler_sample` (one jitted guided step, called per step)
on the backbone with precomputed text; the TAE decode is timed separately (bench/tae_speed.py). Model FLOPs per clip
= steps x forward FLOPs of the doubled batch. --size cpu runs the 2-layer model on 256 tokens.
"""

from __future__ import annotations

import argparse

import harness


def measure(case: dict) -> dict:
    """Whole clips in their own process (`--case`); the first clip compiles the guided step."""
    import jax
    from flax import nnx

    from mgjax.config import MeshConfig
    from mgjax.flow.sampler import euler_sample
    from mgjax.models.t2v import TextToVideo
    from mgjax.parallel.mesh import make_mesh

    cfg = harness.video_config(case["model"], case["grid"], remat="none", tiny_text=case["tiny_text"])
    with jax.set_mesh(make_mesh(MeshConfig(data=1), jax.devices()[:1])):
        model = TextToVideo(cfg, rngs=nnx.Rngs(0))  # precomputed text: the backbone alone
        graphdef, params = nnx.split(model)
        inputs, null = harness.random_inputs(cfg, 1)
        velocity = lambda p, x, t, text: nnx.merge(graphdef, p)(x, t, text)  # noqa: E731
        noise = jax.random.normal(jax.random.key(1), inputs["latent"].shape)
        run = lambda: euler_sample(velocity, params, noise, case["schedule"], inputs["text"], null,  # noqa: E731
                                   case["cfg_scale"], progress=False)
        timing = harness.timeit(run, case["warmup"], case["repeats"])
    return harness.timing_row(timing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, choices=tuple(harness.MODEL_SIZES))
    parser.add_argument("--tokens", default=None, choices=tuple(harness.LATENT_GRIDS))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--cfg-scale", type=float, default=7.5)
    harness.add_common_args(parser)
    parser.set_defaults(warmup=1, repeats=3)
    args = parser.parse_args()
    harness.setup()
    from mgjax.flow.schedules import linear_quadratic_schedule

    size = harness.resolve_size(args.size)
    model = args.model or ("1b" if size == "full" else "tiny")
    grid = args.tokens or ("2k" if size == "full" else "256")
    cfg = harness.video_config(model, grid, remat="none", tiny_text=size == "cpu")
    schedule = linear_quadratic_schedule(args.steps)
    flops = harness.model_flops(cfg, 2)["forward"] * args.steps  # the doubled (CFG) batch at every step
    info = harness.device_info()
    datasheet = harness.datasheet_tflops(info["device_kind"])
    case = dict(model=model, grid=grid, tiny_text=size == "cpu", schedule=[float(x) for x in schedule],
                cfg_scale=args.cfg_scale, warmup=args.warmup, repeats=args.repeats)
    r = harness.run_case(__file__, case)
    label = f"{model} ({harness.backbone_parameters(cfg) / 1e6:,.0f}M)"
    tokens = harness.model_flops(cfg, 1)["tokens"]
    mfu = lambda s: harness.fmt(100 * flops / s / 1e12 / datasheet if datasheet else None)  # noqa: E731
    if "error" in r:
        rows, t = [[label, tokens, args.steps, "mgjax", f"failed: {r['error'][:80]}"] + ["-"] * 5], None
    else:
        t = r["median_s"]
        rows = [[label, tokens, args.steps, "mgjax", f"{t:.3f}", harness.rate(flops / t / 1e12), mfu(t),
                 harness.gib(r["peak_bytes"]), harness.spread(r), ""]]
    spec = dict(harness.peer_model_spec(cfg, 1), schedule=case["schedule"], cfg_scale=args.cfg_scale,
                warmup=args.warmup, repeats=args.repeats, compile=args.peer_compile)
    for p in harness.run_peer(harness.peer_python(args), "sampling", spec):
        if "error" in p:
            rows.append([label, "", args.steps, "torch", f"failed: {p['error'][:80]}"] + ["-"] * 5)
            continue
        pt = p["median_s"]
        rows.append([label, tokens, args.steps, f"torch {p['torch']} {p['name']}", f"{pt:.3f}",
                     harness.rate(flops / pt / 1e12), mfu(pt), harness.gib(p["peak_bytes"]), harness.spread(p),
                     f"{pt / t:.2f}" if t else ""])
    header = ["model", "tokens", "steps", "impl", "s per clip", "model TFLOP/s", "MFU % datasheet",
              "allocator peak GiB", "spread", "mgjax speed-up over it"]
    notes = [f"CFG {args.cfg_scale} (doubled batch), linear-quadratic schedule, bf16 over fp32 weights; median of "
             f"{args.repeats} clips after {args.warmup} warm-up clip(s). Backbone only (no TAE decode)."]
    harness.report("Sampling: seconds per clip, mgjax vs PyTorch peer", info, header, rows, notes, args.record)


if __name__ == "__main__" and not harness.serve_case(measure):
    main()
