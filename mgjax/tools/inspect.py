"""What a config builds, from `jax.eval_shape` (nothing is allocated, whatever the size): parameter counts per
component and whatever else the task reports (the text-to-video task: tokens per clip and forward FLOPs).

python -m mgjax inspect --config configs/moviegen_video_30b.py [--set key=value ...] [--json]
"""

from __future__ import annotations

from mgjax.config.schema import Config
from mgjax.train.tasks import get_task, task_for


def report(cfg: Config) -> dict:
    return task_for(cfg, abstract=True).report()


def format_report(cfg: Config, r: dict) -> str:
    return get_task(cfg.task).format_report(r)
