"""XLA:CPU fusion choice: train steps per second of the CPU configs with mgjax's flags vs XLA's defaults, in one run.

`python bench/xla_cpu_flags.py [--configs configs/tae_shapes.py configs/shapes_t2v_tiny.py] [--repeats 20]`

Each (config, setting) runs in its own process, since XLA reads XLA_FLAGS once, when its backend starts: "mgjax" is
what every entry point sets (`mgjax.cli.CPU_FUSION_FLAG`: convolutions and elementwise fusions on XLA's own
emitter; dot and reduce fusions on YNNPACK); "xla" keeps XLA's defaults (`MGJAX_CPU_FUSION=xla`). The step is the
config's real train step (random init, its own first batch), jitted with the state donated. Results go to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import time

import harness
from mgjax.cli import CPU_FUSION_FLAG

SETTINGS = {"mgjax": {}, "xla": {"MGJAX_CPU_FUSION": "xla"}}


def measure(case: dict) -> dict:
    import pathlib
    import tempfile

    import jax

    from mgjax.parallel.mesh import make_mesh
    from mgjax.train.tasks import load_config, task_for

    cfg = load_config(case["config"], [])
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        task = task_for(cfg, pathlib.Path(tempfile.mkdtemp()))
        state = task.init_state(fresh=True)
        batch = next(iter(task.batches(0)))
        t0 = time.perf_counter()
        step = jax.jit(task.make_step(task.phase(0)), donate_argnums=0).lower(state, batch).compile()
        compile_s = time.perf_counter() - t0
        times = []
        for i in range(case["warmup"] + case["repeats"]):
            t0 = time.perf_counter()
            state, metrics = step(state, batch)
            jax.block_until_ready(state)
            if i >= case["warmup"]:
                times.append(time.perf_counter() - t0)
    return harness.timing_row(harness.Timing(times), compile_s=compile_s, loss=float(metrics["loss"]),
                              xla_flags=os.environ.get("XLA_FLAGS", ""))


def main() -> None:
    if harness.serve_case(measure):
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["configs/tae_shapes.py", "configs/shapes_t2v_tiny.py"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--record", default="", metavar="PATH", help="append the table to this markdown file")
    args = parser.parse_args()
    user_flags = os.environ.get("XLA_FLAGS", "")  # before setup() adds mgjax's: each child adds its own
    harness.setup()
    info = harness.device_info()

    rows = []
    for config in args.configs:
        case = dict(config=config, warmup=args.warmup, repeats=args.repeats)
        r = {name: harness.run_case(__file__, case, env={**env, "XLA_FLAGS": user_flags})
             for name, env in SETTINGS.items()}
        errors = [f"{name}: {row['error']}" for name, row in r.items() if "error" in row]
        if errors:
            rows.append([config, "; ".join(errors)] + ["-"] * 5)
            continue
        mg, xla = r["mgjax"], r["xla"]
        rows.append([config, f"{1 / mg['median_s']:.2f}", f"{1 / xla['median_s']:.2f}",
                     f"{xla['median_s'] / mg['median_s']:.2f}", f"{harness.spread(mg)} / {harness.spread(xla)}",
                     f"{mg['compile_s']:.0f} / {xla['compile_s']:.0f}", f"{mg['loss']:.4g} / {xla['loss']:.4g}"])
        print(rows[-1], flush=True)
    header = ["config", "mgjax steps/s", "XLA-default steps/s", "speed-up", "spread (mgjax / xla)",
              "compile s (mgjax / xla)", f"loss after {args.warmup + args.repeats} steps (mgjax / xla)"]
    notes = [(f"mgjax: `XLA_FLAGS={CPU_FUSION_FLAG}`; xla: XLA's defaults. Median of {args.repeats} steps "
              f"after {args.warmup} warm-up, each setting in its own process; speed-up = XLA-default step time / "
              "mgjax step time.")]
    harness.report("XLA:CPU fusion flags: train step, mgjax vs XLA defaults", info, header, rows, notes,
                   args.record)


if __name__ == "__main__":
    main()
