"""Metric writers: stdout, JSONL and TensorBoard (tensorboardX, no TensorFlow needed)."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Callable


class MetricsWriter:
    """`enabled=False` writes and prints nothing: in a multi-process run only process 0 logs (the metrics are global
    means, the same on every process, and the processes share one workdir)."""

    def __init__(self, workdir: str | pathlib.Path, tensorboard: bool = True, enabled: bool = True,
                 echo: Callable[[str], None] = print):
        self.enabled, self.echo = enabled, echo
        self.jsonl = self.tb = None
        if not enabled:
            return
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(workdir / "metrics.jsonl", "a", buffering=1)
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(str(workdir / "tensorboard"))
        self.start = time.time()

    def write(self, step: int, metrics: dict[str, float], prefix: str = "train", suffix: str = "") -> None:
        if not self.enabled:
            return
        metrics = {k: float(v) for k, v in metrics.items()}
        record = {"step": step, "time": round(time.time() - self.start, 2),
                  **{f"{prefix}/{k}": v for k, v in metrics.items()}}
        self.jsonl.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in metrics.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, step)
        shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        where = f"{suffix}, {record['time']:.0f}s in" if suffix else f"{record['time']:.0f}s in"
        self.echo(f"[{prefix}] step {step} {shown} ({where})")

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
