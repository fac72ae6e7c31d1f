"""Held-out evaluation of a Movie Gen Edit run: edits whose combination (type and named attributes) never appeared
in training, on Moving Shapes clips and images, judged from the pixels (mgjax/eval/edit_judge.py) per edit type.

python -m mgjax eval --config configs/shapes_edit_stage3.py --workdir runs/edit_stage3 [--num N]

N edits per type, on clips of data.num_frames frames (the paper's setting: multi-frame input) and on images; writes
eval/eval_edit.json and, per type, one input | output | exact target strip (mp4, gif) under the workdir.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from mgjax.config.schema import Config
from mgjax.data.shape_edits import EDIT_TYPES, ShapeEdits, render_scene
from mgjax.eval.edit_judge import faithfulness, success
from mgjax.pipelines.edit import EditSampler
from mgjax.pipelines.video_io import write_video

EVAL_SEED_OFFSET = 2000  # held-out scenes apart from any training seed


def heldout_edits(cfg: Config, num: int, num_frames: int) -> list:
    d = cfg.data
    out = []
    for t in EDIT_TYPES:
        source = ShapeEdits("heldout", num_frames=num_frames, height=d.height, width=d.width, types=(t,),
                            seed=d.seed + EVAL_SEED_OFFSET, two_object_prob=d.edit.two_object_prob,
                            start_spread=d.shapes.start_spread)
        out += [source.edit(i) for i in range(num)]
    return out


def score_edits(sampler: EditSampler, cfg: Config, edits: list, num_frames: int, **kw) -> tuple[dict, np.ndarray]:
    """-> ({type: {"success", "psnr_target", "psnr_outside", "num"}}, (input, output, target) videos)."""
    d = cfg.data
    sources = np.stack([render_scene(e.source, num_frames, d.height, d.width) for e in edits])
    targets = np.stack([render_scene(e.target, num_frames, d.height, d.width) for e in edits])
    outputs = sampler.edit_batched(sources, [e.instruction for e in edits], [e.type for e in edits],
                                   cfg.sample.batch_size, **kw)
    rows = [{"type": e.type, "success": success(e, o), **faithfulness(e, o, s, g)}
            for e, o, s, g in zip(edits, outputs, sources, targets)]
    table = {}
    for t in EDIT_TYPES:
        mine = [r for r in rows if r["type"] == t]
        outside = [r["psnr_outside"] for r in mine if r["psnr_outside"] is not None]
        table[t] = {"success": float(np.mean([r["success"] for r in mine])),
                    "psnr_target": float(np.mean([r["psnr_target"] for r in mine])),
                    "psnr_outside": float(np.mean(outside)) if outside else None, "num": len(mine)}
    table["mean"] = {k: float(np.mean([table[t][k] for t in EDIT_TYPES if table[t][k] is not None]))
                     for k in ("success", "psnr_target", "psnr_outside")}
    return table, np.stack([sources, outputs, targets], axis=1)


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None, sampler: EditSampler | None = None,
             write: bool = True) -> dict:
    workdir = pathlib.Path(workdir)
    num = cfg.eval.num_samples if num is None else num
    sampler = sampler or EditSampler(cfg, workdir)
    result = {"step": sampler.step, "num_per_type": num}
    for name, frames in (("video", cfg.data.num_frames), ("image", 1)):
        edits = heldout_edits(cfg, num, frames)
        result[name], strips = score_edits(sampler, cfg, edits, frames)
        if write and name == "video":
            for k, t in enumerate(EDIT_TYPES):
                strip = np.concatenate(list(strips[k * num]), axis=2)  # input | output | target, side by side
                write_video(workdir / "eval" / f"edit_{t}", strip, fps=cfg.data.fps)
            examples = [(edits[k * num].instruction, strips[k * num]) for k in range(len(EDIT_TYPES))]
            before_after_figure(examples).save(workdir / "eval" / "edit_examples.png")
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "eval_edit.json").write_text(json.dumps(result, indent=2))
    return result


def before_after_figure(examples: list[tuple[str, np.ndarray]], scale: int = 3) -> Image.Image:
    """One row per example: its instruction, then the input's frames, the output's and the exact target's (each
    (t h w 3), from left to right), enlarged `scale` times."""
    gap, label = 4 * scale, 12
    rows = []
    for words, (source, output, target) in examples:
        clips = [np.concatenate(list(v), axis=1) for v in (source, output, target)]  # frames left to right
        height = clips[0].shape[0]
        white = np.full((height, gap // scale, 3), 255, np.uint8)
        row = np.concatenate([clips[0], white, clips[1], white, clips[2]], axis=1)
        image = Image.fromarray(row).resize((row.shape[1] * scale, height * scale), Image.NEAREST)
        canvas = Image.new("RGB", (image.width, image.height + label + 4), "white")
        canvas.paste(image, (0, label + 2))
        ImageDraw.Draw(canvas).text((2, 0), words, fill="black")
        rows.append(canvas)
    width = max(r.width for r in rows)
    title = Image.new("RGB", (width, label + 4), "white")
    ImageDraw.Draw(title).text((2, 0), "input | edited | exact target", fill="black")
    figure = Image.new("RGB", (width, title.height + sum(r.height + gap for r in rows)), "white")
    figure.paste(title, (0, 0))
    y = title.height
    for r in rows:
        figure.paste(r, (0, y))
        y += r.height + gap
    return figure


def format_table(table: dict) -> list[str]:
    lines = [f"  {'type':<11} {'success':>8} {'PSNR target':>12} {'PSNR outside':>13}"]
    for t, r in table.items():
        outside = "-" if r["psnr_outside"] is None else f"{r['psnr_outside']:.1f}"
        lines.append(f"  {t:<11} {r['success']:>8.1%} {r['psnr_target']:>12.1f} {outside:>13}")
    return lines


def summary(result: dict) -> str:
    lines = [f"held-out edits, {result['num_per_type']} per type (checkpoint step {result['step']}):"]
    for name in ("video", "image"):
        lines += [f" on {name}s:"] + format_table(result[name])
    return "\n".join(lines)
