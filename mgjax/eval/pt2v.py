"""Held-out evaluation of a personalized-video run: identities never drawn for training, each given as a cross-paired
reference (the identity still, centred, in another pose and lighting than the prompt asks for), judged from the
pixels (mgjax/eval/pt2v_judge.py): identity accuracy (chance 1/6), direction and pose against the prompt, and the
copy-paste rate (how often the video took the reference's pose instead of the prompt's).

python -m mgjax eval --config configs/shapes_pt2v_stage3.py --workdir runs/pt2v_stage3 [--num N]

Beside the model, the same judge reads the held-out clips themselves (its ceiling) and the model's clips against
other identities (chance, as the judge sees it). Writes eval/eval_pt2v.json and eval/pt2v_examples.png (reference,
then the video's frames, per row).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from PIL import Image

from mgjax.config.schema import Config
from mgjax.data.characters import GRID, Characters
from mgjax.eval.pt2v_judge import judge
from mgjax.pipelines.pt2v import PT2VSampler

EVAL_SEED_OFFSET = 3000  # held-out clips apart from any training seed


def heldout_set(cfg: Config, num: int) -> dict:
    d = cfg.data
    source = Characters("heldout", num_frames=d.num_frames, height=d.height, width=d.width,
                        seed=d.seed + EVAL_SEED_OFFSET)
    items = [source[i] for i in range(num)]
    return {"videos": np.stack([it["video"] for it in items]), "prompts": [it["caption"] for it in items],
            "references": np.stack([it["cross_reference"] for it in items]),
            "identities": [it["identity"] for it in items], "poses": [it["pose"] for it in items],
            "reference_poses": [it["cross_pose"] for it in items],
            "directions": [source.spec(i)[0].direction for i in range(num)]}


def score(videos: np.ndarray, s: dict, identities=None) -> dict:
    return judge(videos, s["identities"] if identities is None else identities, s["poses"], s["directions"],
                 s["reference_poses"])


def examples_figure(references: np.ndarray, videos: np.ndarray, scale: int = 3) -> Image.Image:
    """One row per clip: its reference, a gap, then its frames, enlarged `scale` times."""
    rows = []
    for ref, video in zip(references, videos):
        gap = np.full((ref.shape[0], 4, 3), 255, np.uint8)
        frames = sum(([f, gap[:, :2]] for f in video), [])[:-1]
        rows.append(np.concatenate([ref, gap] + frames, axis=1))
    space = np.full((2, rows[0].shape[1], 3), 255, np.uint8)
    grid = np.concatenate(sum(([r, space] for r in rows), [])[:-1])
    return Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None,
             sampler: PT2VSampler | None = None) -> dict:
    workdir = pathlib.Path(workdir)
    num = cfg.eval.num_samples if num is None else num
    s = heldout_set(cfg, num)
    sampler = sampler or PT2VSampler(cfg, workdir)
    videos = sampler.personalize_batched(s["references"], s["prompts"], cfg.sample.batch_size, progress=False)
    others = list(np.roll(s["identities"], 1))  # each clip scored against another clip's identity
    result = {"step": int(sampler.step), "num": num, "model": score(videos, s),
              "model_vs_other_identities": score(videos, s, others), "ground_truth": score(s["videos"], s)}
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "eval_pt2v.json").write_text(json.dumps(result, indent=2))
    examples_figure(s["references"][:6], videos[:6]).save(workdir / "eval" / "pt2v_examples.png")
    return result


def summary(r: dict) -> str:
    lines = [f"held-out identities, {r['num']} clips, each from a cross-paired reference (step {r['step']})",
             f"{'':28}{'identity':>10}{'exact':>8}{'direction':>11}{'tilt':>7}{'size':>7}{'light':>7}"
             f"{'copy-paste':>12}"]
    for name, label in (("model", "model"), ("model_vs_other_identities", "model vs other identities"),
                        ("ground_truth", "held-out clips (ceiling)")):
        x = r[name]
        lines.append(f"{label:28}{x['identity_accuracy']:10.1%}{x['identity_exact']:8.1%}{x.get('direction', 0):11.1%}"
                     f"{x['tilt']:7.1%}{x['size']:7.1%}{x['light']:7.1%}{x['copy_paste_rate']:12.1%}")
    lines.append(f"(identity: cells read right, of {GRID * GRID}, chance {r['model']['identity_chance']:.0%}; "
                 "copy-paste: of the pose attributes where prompt and reference differ, the share taken from the "
                 "reference)")
    return "\n".join(lines)
