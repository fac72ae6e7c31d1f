"""Held-out Moving Shapes evaluation of a text-to-video run: sample N held-out captions, judge the pixels.

python -m mgjax eval --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny [--num N]
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from mgjax.config.schema import Config
from mgjax.data.t2v_loader import shapes_source
from mgjax.eval.shapes_evaluator import score
from mgjax.pipelines.t2v import T2VSampler
from mgjax.pipelines.video_io import slug, write_video


def heldout_captions(cfg: Config, num: int) -> list[str]:
    """The first `num` captions of the held-out split: attribute combinations never seen in training."""
    source = shapes_source(cfg.data, split="heldout")
    return [source[i]["caption"] for i in range(num)]


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None, sampler: T2VSampler | None = None,
             write: int | None = None) -> dict:
    """-> {"accuracy": {attribute: fraction}, "num": N, "step": checkpoint step}; also writes eval_heldout.json and
    a few sample videos under workdir/eval/."""
    workdir = pathlib.Path(workdir)
    num = cfg.eval.num_samples if num is None else num
    write = cfg.eval.num_videos_to_write if write is None else write
    sampler = sampler or T2VSampler(cfg, workdir)
    captions = heldout_captions(cfg, num)
    videos = sampler.sample_batched(captions, cfg.sample.batch_size)
    scores = [score(v, c) for v, c in zip(videos, captions)]
    accuracy = {k: float(np.mean([s[k] for s in scores if k in s])) for k in ("color", "shape", "direction")}
    for i in range(min(write, num)):
        write_video(workdir / "eval" / f"{i:02d}_{slug(captions[i])}", videos[i], fps=cfg.data.fps)
    result = {"step": sampler.step, "num": num, "accuracy": accuracy,
              "samples": [{"caption": c, **s} for c, s in zip(captions, scores)]}
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "eval_heldout.json").write_text(json.dumps(result, indent=2))
    return result


def summary(result: dict) -> str:
    acc = result["accuracy"]
    return (f"held-out accuracy over {result['num']} captions (checkpoint step {result['step']}): "
            + " ".join(f"{k}={v:.1%}" for k, v in acc.items()))
