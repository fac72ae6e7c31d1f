"""Held-out Moving Shapes evaluation of a text-to-video run: sample N held-out captions, judge the pixels.

python -m mgjax.eval.shapes_t2v --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny [--num N]
"""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np

from mgjax.cli import run_main, run_parser, set_global_flags
from mgjax.config import Config
from mgjax.data.t2v_loader import shapes_source
from mgjax.eval.shapes_evaluator import score
from mgjax.pipelines.t2v import T2VSampler
from mgjax.pipelines.video_io import write_video


def heldout_captions(cfg: Config, num: int) -> list[str]:
    """The first `num` captions of the held-out split: attribute combinations never seen in training."""
    source = shapes_source(cfg.data, split="heldout")
    return [source[i]["caption"] for i in range(num)]


def slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "video"


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


def main(argv=None) -> int:
    parser = run_parser(__doc__)
    parser.add_argument("--num", type=int, default=None, help="held-out captions to sample (default eval.num_samples)")
    args = parser.parse_args(argv)
    set_global_flags()
    from mgjax.config import load_config

    cfg = load_config(args.config, args.set)
    result = evaluate(cfg, args.workdir, args.num)
    acc = result["accuracy"]
    print(f"held-out accuracy over {result['num']} captions (checkpoint step {result['step']}): "
          + " ".join(f"{k}={v:.1%}" for k, v in acc.items()), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    run_main(main, sys.argv[1:])
