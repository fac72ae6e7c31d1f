"""What every bench/ script shares: the device and its peak rates, timing, memory, the benchmark model shapes, the
PyTorch peer subprocess and the BENCHMARKS.md rows.

Scripts run as `python bench/NAME.py` from the repository root, small on CPU and full-size on an accelerator
(`--size auto` picks by backend). They import only mgjax's model, flow and train-step code (jax, flax, optax, numpy),
so they also run in an accelerator image that has the JAX stack but not mgjax's data dependencies.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Sequence

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # mgjax from this checkout, installed or not
    sys.path.insert(0, str(REPO))

# Dense bf16 peak TFLOP/s from the vendors' data sheets, matched against jax's device_kind (first match wins).
DATASHEET_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0), ("L4", 121.0),
                         ("TPU v5p", 459.0), ("TPU v5 lite", 197.0), ("TPU v6 lite", 918.0), ("TPU v4", 275.0))

# Backbone shapes for the benchmarks: the 30B's FFN ratio (16384 / 6144 = 8/3, rounded to a multiple of 256) and
# head dim 128. `inspect`'s parameter count is printed with every result: 1b = 1.0B, 4b = 3.9B.
MODEL_SIZES = {
    "tiny": dict(num_layers=2, width=256, ffn_width=768, num_heads=2),
    "1b": dict(num_layers=14, width=2048, ffn_width=5632, num_heads=16),
    "4b": dict(num_layers=26, width=3072, ffn_width=8192, num_heads=24),
}
# Latent grids (t, h, w) of 16 channels; patch (1, 2, 2) makes the token counts in the names.
LATENT_GRIDS = {
    "256": (4, 16, 16),  # CPU size
    "2k": (8, 32, 32),  # 256 px, 4 s at 16 fps (64 frames): the sampling benchmark's clip
    "8k": (32, 32, 32),  # 256 px, 32 latent frames
    "32k": (32, 64, 64),  # 512 px
    "73k": (32, 96, 96),  # 768 px, 16 s: the paper's 73,728 tokens
}
# The text encoders' output widths and token limits of configs/moviegen_video_30b.py (UL2, ByT5, MetaCLIP), arriving
# precomputed as the paper's training does; the CPU size keeps their count and shrinks them.
TEXT_FULL = ((4096, 300), (1472, 100), (1280, 256))
TEXT_TINY = ((64, 16), (32, 8), (32, 16))


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("auto", "cpu", "full"), default="auto",
                        help="problem sizes: cpu (seconds on a laptop), full (the issue's sizes), auto: by backend")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record", default="", metavar="PATH", help="append the table to this markdown file")
    parser.add_argument("--peer", choices=("auto", "on", "off"), default="auto",
                        help="run the PyTorch peer in the same run (auto: when torch is importable)")
    parser.add_argument("--peer-python", default="", help="interpreter with torch (default: this one, else "
                        ".venv-parity/bin/python)")
    parser.add_argument("--peer-compile", action="store_true", help="also time the peer under torch.compile")


def setup() -> None:
    import os

    # Grow the accelerator's memory pool as needed instead of taking 75% at start-up: the driver process then leaves
    # the device to the measuring processes it starts (mgjax cases and the PyTorch peer).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from mgjax.cli import set_global_flags

    set_global_flags()


def resolve_size(size: str) -> str:
    import jax

    if size != "auto":
        return size
    return "cpu" if jax.default_backend() == "cpu" else "full"


# ----------------------------------------------------------------------------------------------- device and rates

def device_info() -> dict[str, Any]:
    import jax
    import jaxlib

    d = jax.devices()[0]
    return {"platform": d.platform, "device_kind": d.device_kind, "device_count": jax.device_count(),
            "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")}


def datasheet_tflops(device_kind: str) -> float | None:
    for name, tflops in DATASHEET_BF16_TFLOPS:
        if name.lower() in device_kind.lower():
            return tflops
    return None


def measured_matmul_tflops(size: str, repeats: int = 10) -> float:
    """The measured dense-matmul ceiling: bf16 8192^3 on an accelerator (random data: zeros run faster), fp32 1024^3
    on CPU (where bf16 matmuls are emulated)."""
    import jax
    import jax.numpy as jnp

    n, dtype = (8192, jnp.bfloat16) if size == "full" else (1024, jnp.float32)
    ka, kb = jax.random.split(jax.random.key(0))
    a, b = (jax.random.normal(k, (n, n), jnp.float32).astype(dtype) for k in (ka, kb))
    matmul = jax.jit(lambda a, b: a @ b)
    t = timeit(lambda: matmul(a, b), warmup=2, repeats=repeats)
    return 2 * n ** 3 / t.median / 1e12


@dataclasses.dataclass
class Timing:
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def timeit(fn: Callable[[], Any], warmup: int, repeats: int) -> Timing:
    """Median wall time of `fn()` with its outputs waited for (device work is asynchronous)."""
    import jax

    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return Timing(times)


def compiled_peak_bytes(compiled) -> int:
    """XLA's own accounting of one compiled program: arguments + outputs + temporaries, less donated buffers that
    the outputs reuse. Exact and per program (the allocator's peak below is per process)."""
    m = compiled.memory_analysis()
    alias = getattr(m, "alias_size_in_bytes", 0)
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - alias)


def allocator_peak_bytes() -> int | None:
    """The device allocator's high-water mark since the process started (None on CPU, which keeps no such count)."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def gib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2 ** 30:.2f}"


# ----------------------------------------------------------------------------------------- the benchmark model

def video_config(size: str, grid: str, *, batch: int = 1, remat: str = "full", attention: str = "auto",
                 tiny_text: bool = False, **model_overrides):
    """A text-to-video Config for the benchmark: backbone `size`, cached latents of `grid`, precomputed text."""
    from mgjax.config import CodecConfig, Config, DataConfig, MeshConfig, TextConfig, TextEncoderConfig
    from mgjax.config import VideoModelConfig

    lt, lh, lw = LATENT_GRIDS[grid]
    text = TEXT_TINY if tiny_text else TEXT_FULL
    names = ("ul2", "byt5", "metaclip")
    model = VideoModelConfig(**{**MODEL_SIZES[size], **model_overrides}, patch_size=(1, 2, 2), in_channels=16,
                             max_patches=(lt, lh // 2, lw // 2), dtype="bfloat16", remat=remat, attention=attention)
    return Config(
        name=f"bench_{size}_{grid}", model=model,
        text=TextConfig(encoders=tuple(TextEncoderConfig(name=n, kind="external", width=w, max_length=m)
                                       for n, (w, m) in zip(names, text)), drop_prob=0.1, precomputed=True),
        codec=CodecConfig(kind="tae", factors=(8, 8, 8), latent_channels=16),
        data=DataConfig(num_frames=lt * 8, height=lh * 8, width=lw * 8, fps_prefix=False, batch_size=batch,
                        source="latents"),
        mesh=MeshConfig(data=1, parallelism="fsdp"))


def model_flops(cfg, batch: int) -> dict[str, float]:
    """Analytic FLOPs of the backbone (`mgjax.models.video.flops`): forward per step, and a training step's
    model FLOPs = 3x forward (remat's recomputation is not counted: the MFU convention)."""
    from mgjax.config.geometry import video_tokens
    from mgjax.models.video.flops import forward_flops

    tokens = video_tokens(cfg)
    fwd = forward_flops(cfg.model, cfg.text.encoders, tokens["video_tokens"], tokens["text_tokens"])["total"] * batch
    return {"tokens": tokens["video_tokens"], "forward": fwd, "train": 3 * fwd}


def backbone_parameters(cfg) -> int:
    from mgjax.tools.inspect import report

    return report(cfg)["parameters"]["backbone"]


def peer_model_spec(cfg, batch: int) -> dict[str, Any]:
    """What the PyTorch peer needs to build the same block stack and inputs."""
    m = cfg.model
    return {"num_layers": m.num_layers, "width": m.width, "ffn_width": m.ffn_width, "num_heads": m.num_heads,
            "patch": list(m.patch_size), "channels": m.in_channels, "latent": list(latent_grid_of(cfg)),
            "text": [[e.width, e.max_length] for e in cfg.text.encoders], "batch": batch, "remat": m.remat,
            "freq_dim": m.timestep_freq_dim, "eps": m.norm_eps}


def latent_grid_of(cfg) -> tuple[int, int, int]:
    from mgjax.config.geometry import latent_grid

    d = cfg.data
    return latent_grid(cfg.codec, d.num_frames, d.height, d.width)[:3]


def random_inputs(cfg, batch: int, seed: int = 0):
    """Cached latents (b, t, h, w, 16), text [(hidden (b, m, d), all-valid mask)], and the empty prompt."""
    import jax
    import jax.numpy as jnp

    from mgjax.train.tasks.t2v import constant_null_tokens

    keys = jax.random.split(jax.random.key(seed), 1 + len(cfg.text.encoders))
    latent = jax.random.normal(keys[0], (batch,) + latent_grid_of(cfg) + (cfg.model.in_channels,), jnp.float32)
    text = [(jax.random.normal(k, (batch, e.max_length, e.width), jnp.float32), jnp.ones((batch, e.max_length), bool))
            for k, e in zip(keys[1:], cfg.text.encoders)]
    return {"latent": latent, "text": text}, constant_null_tokens(cfg)


# ------------------------------------------------------------------------------------------------ the PyTorch peer

def peer_python(args) -> str | None:
    """An interpreter that has torch: --peer-python, else this one, else the parity tests' environment."""
    if args.peer == "off":
        return None
    if args.peer_python:
        return args.peer_python
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    parity = REPO / ".venv-parity" / "bin" / "python"
    if parity.is_file():
        return str(parity)
    if args.peer == "on":
        raise SystemExit("--peer on: no interpreter with torch found (give --peer-python)")
    return None


def _json_rows(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> list[dict]:
    """Run a measuring process (with `env` added to ours); its stdout lines that start with '{' are result rows. A
    failure is one `error` row."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=None if env is None else {**os.environ, **env})
    except subprocess.TimeoutExpired:
        return [{"error": f"timed out after {timeout:.0f} s"}]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not rows:
        lines = [line for line in (proc.stderr + proc.stdout).strip().splitlines()
                 if "Error" in line or "error" in line] or (proc.stderr + proc.stdout).strip().splitlines() or ["?"]
        return rows + [{"error": f"exit {proc.returncode}: {lines[-1].strip()[:160]}"}]
    return rows


def run_peer(python: str | None, area: str, spec: dict, timeout: float = 1800) -> list[dict]:
    """Run `bench/torch_peer.py AREA` in its own process and return its rows (none without an interpreter)."""
    if python is None:
        return []
    return _json_rows([python, str(REPO / "bench" / "torch_peer.py"), area, "--spec", json.dumps(spec)], timeout)


def run_case(script: str, case: dict, timeout: float = 1800, env: dict[str, str] | None = None) -> dict:
    """Run one mgjax measurement (`script --case JSON`) in a fresh process: each case gets the whole accelerator
    (JAX's allocator keeps what it once held) and the allocator's peak is that case's own. `env` is added to the
    child's environment (XLA reads XLA_FLAGS once, at backend start)."""
    return _json_rows([sys.executable, str(pathlib.Path(script).resolve()), "--case", json.dumps(case)], timeout,
                      env)[-1]


def serve_case(measure: Callable[[dict], dict]) -> bool:
    """In a `--case JSON` child: run `measure(case)`, print its result as one JSON line and return True."""
    if "--case" not in sys.argv:
        return False
    case = json.loads(sys.argv[sys.argv.index("--case") + 1])
    setup()
    print(json.dumps(measure(case)), flush=True)
    return True


def timing_row(timing: Timing, **extra) -> dict:
    return {"median_s": timing.median, "min_s": min(timing.times), "max_s": max(timing.times),
            "peak_bytes": allocator_peak_bytes(), **extra}


def spread(row: dict) -> str:
    """(max - min) / median of a result row's repeats: how far apart they were."""
    return f"{(row['max_s'] - row['min_s']) / row['median_s']:.2f}"


# ------------------------------------------------------------------------------------------------------ reporting

def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, info: dict, header: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = (),
           record: str = "") -> str:
    """Print the table (last, so it ends the output) and, with `record`, append it as a section of a markdown file
    with the device, date, JAX version and the exact command."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    head = (f"{info['date']}, {info['device_kind']} x{info['device_count']} ({info['platform']}), JAX {info['jax']}, "
            f"`{command}`")
    text = "\n\n".join([f"## {title}", head, markdown_table(header, rows)] + [n for n in notes if n])
    print(text, flush=True)
    if record:
        path = pathlib.Path(record)
        existing = path.read_text() if path.exists() else "# Benchmarks\n"
        path.write_text(existing.rstrip("\n") + "\n\n" + text + "\n")
    return text


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def rate(x: float) -> str:
    """Three significant digits: 0.0123 on a CPU, 612 on an H100."""
    return f"{x:.3g}"
