"""TAE training-step speed per optimizer: what Muon's orthogonalisation costs against AdamW in the step train.py runs.

    python bench/tae_train_step.py [--config configs/tae_shapes.py] [--optimizers adamw muon] [--record BENCHMARKS.md]

The step is TAETask's (reconstruction + KL, outlier penalty off, discriminator off unless the config starts it at 0;
state donated) on a random batch of the config's clips and, separately, of its images (every `data.image_every`-th
batch in training). Full size: the paper-size TAE on 2 clips of 32 frames at 256 px; --size cpu: configs/tae_shapes.py
as it trains. Whether the extra time pays is a question of progress per step, which only training answers (README).
"""

from __future__ import annotations

import argparse

import harness


def measure(case: dict) -> dict:
    """One optimizer and batch kind, in its own process (`--case`)."""
    import jax
    import numpy as np

    from mgjax.config import MeshConfig
    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config, task_for

    cfg = load_config(case["config"], case["set"] + [f"optim.optimizer={case['optimizer']}"])
    frames = 1 if case["images"] else case["frames"]
    with jax.set_mesh(make_mesh(MeshConfig(data=1), jax.devices()[:1])):
        task = task_for(cfg)
        state = task.init_state(fresh=True)
        step = jax.jit(task.make_step(task.phase(0)), donate_argnums=(0,))
        shape = (case["batch"], frames, case["px"], case["px"], 3)
        batch = {"video": np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)}
        compiled = step.lower(state, batch).compile()
        holder = {"state": state}

        def run():
            holder["state"], metrics = compiled(holder["state"], batch)
            return metrics["loss"]

        timing = harness.timeit(run, case["warmup"], case["repeats"])
    return harness.timing_row(timing, compiled_peak=harness.compiled_peak_bytes(compiled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="default: configs/tae_paper.py (full), tae_shapes.py (cpu)")
    parser.add_argument("--optimizers", nargs="+", default=["adamw", "muon"], choices=("adamw", "muon"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    harness.add_common_args(parser)
    parser.set_defaults(warmup=3, repeats=10)
    args = parser.parse_args()
    harness.setup()
    from mgjax.train.tasks import load_config

    full = harness.resolve_size(args.size) == "full"
    config = args.config or ("configs/tae_paper.py" if full else "configs/tae_shapes.py")
    cfg = load_config(config, args.set)
    shape = dict(batch=2, frames=32, px=256) if full else dict(batch=cfg.data.batch_size, frames=cfg.data.num_frames,
                                                               px=cfg.data.height)
    base = dict(config=config, set=args.set, warmup=args.warmup, repeats=args.repeats, **shape)
    rows, medians = [], {}
    for images in (False, True):
        for optimizer in args.optimizers:
            r = harness.run_case(__file__, dict(base, optimizer=optimizer, images=images))
            kind = "images" if images else "clips"
            if "error" in r:
                rows.append([kind, optimizer, f"failed: {r['error'][:80]}", "-", "-", "-"])
                continue
            medians[kind, optimizer] = r["median_s"]
            ratio = r["median_s"] / medians[kind, args.optimizers[0]] if (kind, args.optimizers[0]) in medians else None
            rows.append([kind, optimizer, f"{r['median_s'] * 1e3:.1f}", harness.fmt(ratio, 2),
                         harness.gib(r["compiled_peak"]), harness.spread(r)])
    header = ["batch", "optimizer", "step ms", f"time vs {args.optimizers[0]}", "XLA peak GiB", "spread"]
    tae = cfg.model
    notes = [f"{cfg.name}: TAE {tae.base_channels} x {tae.channel_mult}; {shape['batch']} clips of {shape['frames']} "
             f"frames (or {shape['batch']} images) at {shape['px']} px; median of {args.repeats} after {args.warmup} "
             f"warm-up, each case in its own process."]
    harness.report("TAE: training step per optimizer", harness.device_info(), header, rows, notes, args.record)


if __name__ == "__main__" and not harness.serve_case(measure):
    main()
