"""Training-step speed of the Movie Gen Video transformer: step time, model FLOPs utilisation, peak memory, and the
PyTorch peer's step on the same block stack in the same run.

    python bench/train_step.py [--models 1b 4b] [--tokens 8k 32k] [--remat full save_dots] [--record BENCHMARKS.md]

The step is the one train.py runs (flow-matching loss, AdamW with clipping, EMA, the non-finite guard; state
donated) over cached latents and precomputed text (UL2 + ByT5 + MetaCLIP widths and token limits), bf16 activations
over fp32 parameters, one clip per step on one device. MFU = 3x the analytic forward FLOPs (`mgjax.models.video.flops`;
remat's recomputation not counted) over step time x peak, against the data-sheet bf16 peak and the bf16 matmul rate
measured in the same run. --size cpu runs a 2-layer model on 256 tokens.
"""

from __future__ import annotations

import argparse

import harness


def measure(case: dict) -> dict:
    """One configuration's step, in its own process (`--case`)."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    from mgjax.config import MeshConfig
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import task_for

    cfg = harness.video_config(case["model"], case["grid"], batch=case["batch"], remat=case["remat"],
                               attention=case["attention"], tiny_text=case["tiny_text"])
    mesh = make_mesh(MeshConfig(data=1), jax.devices()[:1])
    with jax.set_mesh(mesh):
        task = task_for(cfg, abstract=True)  # cached latents and precomputed text, nothing read from disk
        state = task.init_state(fresh=False)
        inputs, _ = jax.device_put(harness.random_inputs(cfg, case["batch"]), NamedSharding(mesh, PartitionSpec()))
        step = jax.jit(task.make_step(None), donate_argnums=(0,))
        compiled = step.lower(state, inputs).compile()
        holder = {"state": state}

        def run():
            holder["state"], metrics = compiled(holder["state"], inputs)
            return metrics["loss"]

        timing = harness.timeit(run, case["warmup"], case["repeats"])
        loss = float(run())
    return harness.timing_row(timing, compiled_peak=harness.compiled_peak_bytes(compiled), loss=loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, choices=tuple(harness.MODEL_SIZES))
    parser.add_argument("--tokens", nargs="+", default=None, choices=tuple(harness.LATENT_GRIDS))
    parser.add_argument("--remat", nargs="+", default=["full"])
    parser.add_argument("--attention", default="auto")
    parser.add_argument("--batch", type=int, default=1)
    harness.add_common_args(parser)
    args = parser.parse_args()
    harness.setup()
    size = harness.resolve_size(args.size)
    models = args.models or (["1b", "4b"] if size == "full" else ["tiny"])
    grids = args.tokens or (["8k", "32k"] if size == "full" else ["256"])
    info = harness.device_info()
    datasheet = harness.datasheet_tflops(info["device_kind"])
    matmul = harness.measured_matmul_tflops(size)
    peer = harness.peer_python(args)
    rows = []

    def add(label, tokens, remat, impl, seconds, compiled_peak, allocator_peak, spread, flops, ratio=""):
        tflops = flops / seconds / 1e12
        mfu = lambda peak: harness.fmt(100 * tflops / peak if peak else None)  # noqa: E731
        rows.append([label, tokens, remat, impl, f"{seconds * 1e3:.1f}", harness.rate(tflops), mfu(datasheet),
                     mfu(matmul), harness.gib(compiled_peak), harness.gib(allocator_peak), spread, ratio])

    for model in models:
        for grid in grids:
            for remat in args.remat:
                cfg = harness.video_config(model, grid, batch=args.batch, remat=remat, attention=args.attention,
                                           tiny_text=size == "cpu")
                flops = harness.model_flops(cfg, args.batch)
                label = f"{model} ({harness.backbone_parameters(cfg) / 1e6:,.0f}M)"
                failed = lambda impl, why: rows.append(  # noqa: E731
                    [label, flops["tokens"], remat, impl, f"failed: {why[:80]}"] + ["-"] * 7)
                case = dict(model=model, grid=grid, batch=args.batch, remat=remat, attention=args.attention,
                            tiny_text=size == "cpu", warmup=args.warmup, repeats=args.repeats)
                r = harness.run_case(__file__, case)
                if "error" in r:  # out of memory at this size, say: report it and go on
                    failed("mgjax", r["error"])
                    continue
                t = r["median_s"]
                add(label, flops["tokens"], remat, "mgjax", t, r["compiled_peak"], r["peak_bytes"], harness.spread(r),
                    flops["train"])
                spec = dict(harness.peer_model_spec(cfg, args.batch), warmup=args.warmup, repeats=args.repeats,
                            compile=args.peer_compile)
                for p in harness.run_peer(peer, "train_step", spec):
                    if "error" in p:
                        failed("torch", p["error"])
                        continue
                    pt = p["median_s"]
                    add(label, flops["tokens"], remat, f"torch {p['torch']} {p['name']}", pt, None, p["peak_bytes"],
                        harness.spread(p), flops["train"], ratio=f"{pt / t:.2f}")
    header = ["model", "tokens", "remat", "impl", "step ms", "model TFLOP/s", "MFU % datasheet", "MFU % matmul",
              "XLA peak GiB", "allocator peak GiB", "spread", "mgjax speed-up over torch"]
    notes = [f"Peaks: data sheet {harness.fmt(datasheet, 0)} TFLOP/s bf16 dense; measured matmul "
             f"{matmul:.1f} TFLOP/s ({'bf16 8192^3' if size == 'full' else 'fp32 1024^3'}, same run). Batch "
             f"{args.batch} clip per step; median of {args.repeats} steps after {args.warmup} warm-up; spread = "
             "(max - min) / median; speed-up = torch step time / mgjax step time. Each measurement runs in its "
             "own process, so allocator peaks are per run."]
    harness.report("Training step: mgjax vs PyTorch peer", info, header, rows, notes, args.record)


if __name__ == "__main__" and not harness.serve_case(measure):
    main()
