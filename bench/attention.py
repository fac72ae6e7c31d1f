"""Attention throughput per kernel: forward and forward+backward TFLOP/s, bidirectional, head dim 128, beside
PyTorch's SDPA backends in the same run.

    python bench/attention.py [--tokens 8192 32768 73728] [--heads 16] [--kernels xla cudnn] [--record BENCHMARKS.md]

Kernels go through mgjax's `attend()` (the one every model calls) with an explicit implementation: xla everywhere,
cudnn on GPU, splash on TPU. FLOPs: forward 4 b h n^2 d (QK^T and PV); forward+backward 3.5x forward (the backward
recomputes the scores and does four more products, the FlashAttention convention), so both rates are comparable
with published kernel figures. --size cpu runs 256 and 1024 tokens.
"""

from __future__ import annotations

import argparse

import harness

KERNELS_BY_PLATFORM = {"gpu": ("cudnn", "xla"), "tpu": ("splash", "xla"), "cpu": ("xla",)}


def attention_flops(batch: int, heads: int, tokens: int, head_dim: int) -> float:
    return 4.0 * batch * heads * tokens * tokens * head_dim


def measure(case: dict) -> dict:
    """One kernel at one size, in its own process (`--case`): forward, then forward+backward."""
    import jax
    import jax.numpy as jnp

    from mgjax.attention.api import attend

    kernel, shape = case["kernel"], (case["batch"], case["tokens"], case["heads"], case["head_dim"])
    dtype = jnp.bfloat16 if jax.default_backend() != "cpu" else jnp.float32
    q, k, v, g = (jax.random.normal(key, shape, jnp.float32).astype(dtype)
                  for key in jax.random.split(jax.random.key(0), 4))
    fwd = jax.jit(lambda q, k, v: attend(q, k, v, implementation=kernel)).lower(q, k, v).compile()

    @jax.jit
    def fwd_bwd(q, k, v, g):
        out, vjp = jax.vjp(lambda q, k, v: attend(q, k, v, implementation=kernel), q, k, v)
        return out, vjp(g)

    both = fwd_bwd.lower(q, k, v, g).compile()
    t_fwd = harness.timeit(lambda: fwd(q, k, v), case["warmup"], case["repeats"])
    t_both = harness.timeit(lambda: both(q, k, v, g), case["warmup"], case["repeats"])
    return harness.timing_row(t_fwd, fwd_bwd_median_s=t_both.median, compiled_peak=harness.compiled_peak_bytes(both))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=None)
    parser.add_argument("--heads", type=int, default=None, help="default: 16 (full), 2 (cpu)")
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--kernels", nargs="+", default=None)
    harness.add_common_args(parser)
    args = parser.parse_args()
    harness.setup()
    import jax

    size = harness.resolve_size(args.size)
    tokens = args.tokens or ([8192, 32768, 73728] if size == "full" else [256, 1024])
    heads = args.heads or (16 if size == "full" else 2)
    kernels = args.kernels or KERNELS_BY_PLATFORM.get(jax.default_backend(), ("xla",))
    info = harness.device_info()
    datasheet = harness.datasheet_tflops(info["device_kind"])
    peer = harness.peer_python(args)
    rows = []
    for n in tokens:
        flops = attention_flops(args.batch, heads, n, args.head_dim)

        def add(impl, fwd_s, both_s, peak, ratio=""):
            tf = lambda s, mult: harness.rate(mult * flops / s / 1e12)  # noqa: E731
            pct = harness.fmt(100 * flops / fwd_s / 1e12 / datasheet if datasheet else None)
            rows.append([n, impl, f"{fwd_s * 1e3:.2f}", tf(fwd_s, 1), pct, f"{both_s * 1e3:.2f}", tf(both_s, 3.5),
                         harness.gib(peak), ratio])

        mgjax_fwd = None
        spec = {"batch": args.batch, "heads": heads, "tokens": n, "head_dim": args.head_dim, "warmup": args.warmup,
                "repeats": args.repeats}
        for kernel in kernels:
            r = harness.run_case(__file__, dict(spec, kernel=kernel))
            if "error" in r:  # e.g. the XLA kernel's n^2 scores do not fit at 73K tokens
                rows.append([n, f"mgjax {kernel}", f"failed: {r['error'][:80]}"] + ["-"] * 6)
                continue
            mgjax_fwd = min(r["median_s"], mgjax_fwd or float("inf"))
            add(f"mgjax {kernel}", r["median_s"], r["fwd_bwd_median_s"], r["compiled_peak"])
        for p in harness.run_peer(peer, "attention", spec):
            if "error" in p:
                rows.append([n, f"torch {p.get('name', '')}", f"failed: {p['error'][:80]}"] + ["-"] * 6)
                continue
            ratio = f"{p['median_s'] / mgjax_fwd:.2f}" if mgjax_fwd else ""
            add(f"torch {p['torch']} sdpa {p['name']}", p["median_s"], p["fwd_bwd_median_s"], p["peak_bytes"], ratio)
    header = ["tokens", "kernel", "fwd ms", "fwd TFLOP/s", "fwd % datasheet", "fwd+bwd ms", "fwd+bwd TFLOP/s",
              "peak GiB (fwd+bwd)", "fastest mgjax fwd speed-up over it"]
    notes = [f"batch {args.batch}, {heads} heads of {args.head_dim}, bidirectional, "
             f"{'bf16' if jax.default_backend() != 'cpu' else 'fp32'}; median of {args.repeats} after "
             f"{args.warmup} warm-up. Data-sheet peak {harness.fmt(datasheet, 0)} TFLOP/s. mgjax peak: XLA's "
             "accounting of the fwd+bwd program; torch: the allocator's peak for that backend."]
    harness.report("Attention: mgjax kernels vs PyTorch SDPA", info, header, rows, notes, args.record)


if __name__ == "__main__" and not harness.serve_case(measure):
    main()
