"""Judge a Moving Shapes edit from the pixels: did the instructed attribute change (success), and did nothing else
(faithfulness)?

Success reads the output with the text-to-video judge's object detector (`shapes_evaluator.detect_objects`: palette
colour, shape, direction) where the edit names an object; where it names the backdrop, the style or a mark colour it
reads those pixels inside the edit's ground-truth masks (which pixels belong to which object is the data's, what
colour they have is the output's). Faithfulness is PSNR against the exact target, and PSNR against the input outside
the region the instruction may change.
"""

from __future__ import annotations

import numpy as np

from mgjax.data.moving_shapes import COLORS
from mgjax.data.shape_edits import (MARK_COLORS, Edit, _erode, edit_region, object_masks, outline_width,
                                    pattern_period, render_scene)
from mgjax.eval.shapes_evaluator import MIN_CHROMA, _palette_labels, detect_objects

PLAIN_MAX_STD = 8.0  # grey-level std of a plain backdrop (noise: ~18; patterns: >= 15)
PATTERN_MIN_CORR = 0.7  # correlation with the canonical stripes / checks that counts as that pattern
NEGATIVE_MAX_ERROR = 25.0  # mean |(255 - output) - input| over the backdrop of a negative
OUTLINE_MIN_RING, OUTLINE_MAX_INTERIOR = 0.5, 0.4  # coloured fraction of the outline ring / of the interior
MARK_MAX_DISTANCE, MARK_MIN_FRACTION = 60, 0.6  # per-channel distance to the mark colour; share of the object


def success(edit: Edit, video: np.ndarray) -> bool:
    """Whether `video` (uint8 (t h w 3), the output for `edit.source` and `edit.instruction`) shows the edit."""
    t, h, w, _ = video.shape
    d = edit.detail
    if edit.type in ("add", "remove", "replace", "color"):
        found = {o["color"]: o["shape"] for o in detect_objects(video)}
        wanted = {o.color: o.shape for o in edit.target.objects}
        gone = {o.color for o in edit.source.objects} - set(wanted)
        return all(found.get(c) == s for c, s in wanted.items()) and not (gone & set(found))
    if edit.type == "background":
        return backdrop_kind(video, _backdrop_mask(edit, t, h, w)) == d["kind2"]
    if edit.type == "style" and d["style"] == "negative":
        source = render_scene(edit.source, t, h, w).astype(float)
        mask = _backdrop_mask(edit, t, h, w)
        error = np.abs((255.0 - video.astype(float)) - source)[mask].mean()
        found = {o["color"]: o["shape"] for o in detect_objects(255 - video)}
        return error <= NEGATIVE_MAX_ERROR and found == {o.color: o.shape for o in edit.source.objects}
    if edit.type == "style":
        return _outlined(edit, video)
    if edit.type == "segment":
        mask = object_masks(edit.target, t, h, w)[d["index"]]
        near = np.abs(video.astype(int) - np.array(MARK_COLORS[d["mark"]])).max(-1) <= MARK_MAX_DISTANCE
        return bool(mask.any()) and near[mask].mean() >= MARK_MIN_FRACTION
    raise ValueError(f"no judge for edit type {edit.type!r}")


def faithfulness(edit: Edit, video: np.ndarray, source: np.ndarray, target: np.ndarray) -> dict[str, float | None]:
    """PSNR (dB) of the output against the exact target, and against the input outside the editable region
    (dilated by a pixel; None for edits that may change every pixel, e.g. a negative)."""
    t, h, w, _ = video.shape
    outside = ~_dilate(edit_region(edit, t, h, w))
    out = {"psnr_target": psnr(video, target)}
    out["psnr_outside"] = psnr(video[outside], source[outside]) if outside.mean() > 0.05 else None
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of 8-bit pixels over all the values given (capped at 100 dB for identical inputs)."""
    mse = np.mean(np.square(a.astype(float) - b.astype(float)))
    return float(min(100.0, 10 * np.log10(255.0**2 / max(mse, 1e-10))))


def backdrop_kind(video: np.ndarray, mask: np.ndarray) -> str:
    """"plain", "striped", "checkered" (the canonical patterns) or "noisy" (anything else), from the pixels in
    `mask` (t h w)."""
    grey = video.astype(float).mean(-1)
    values = grey[mask]
    if values.size < 16 or values.std() <= PLAIN_MAX_STD:
        return "plain"
    _, h, w = mask.shape
    period = pattern_period(h, w)
    rows, cols = np.ogrid[:h, :w]
    templates = {"striped": (cols * 2 // period) % 2 + 0 * rows,
                 "checkered": (rows * 2 // period + cols * 2 // period) % 2}
    for kind, template in templates.items():
        pattern = np.broadcast_to(template, mask.shape)[mask].astype(float)
        if pattern.std() > 0 and np.corrcoef(values, pattern)[0, 1] >= PATTERN_MIN_CORR:
            return kind
    return "noisy"


def _outlined(edit: Edit, video: np.ndarray) -> bool:
    """Every object's outline ring carries its colour and its inside does not."""
    t, h, w, _ = video.shape
    labels, chroma = _palette_labels(video / 255.0)
    for obj, mask in zip(edit.target.objects, object_masks(edit.target, t, h, w)):
        inner = _erode(mask, outline_width(obj, h, w))
        ring = mask & ~inner
        colored = (labels == list(COLORS).index(obj.color)) & (chroma >= MIN_CHROMA)
        if not inner.any() or colored[ring].mean() < OUTLINE_MIN_RING or colored[inner].mean() > OUTLINE_MAX_INTERIOR:
            return False
    return True


def _backdrop_mask(edit: Edit, t: int, h: int, w: int) -> np.ndarray:
    objects = object_masks(edit.source, t, h, w) + object_masks(edit.target, t, h, w)
    return ~_dilate(np.any(np.stack(objects), 0)) if objects else np.ones((t, h, w), bool)


def _dilate(mask: np.ndarray) -> np.ndarray:
    return ~_erode(~mask, 1)


