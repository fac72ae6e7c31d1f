"""Judge a personalized Characters clip from its pixels (mgjax/data/characters.py): whose identity it shows, in which
pose, moving where, and whether it copied its reference's pose instead of the prompt's.

Per frame: the body is the saturated pixels (the backgrounds are grey); its centre is their centroid, its side the
root of their area, and its angle the one whose square best overlaps them (searched over -45..45 degrees: a square
looks the same every 90). Each cell is read at that pose by a vote of the palette hues of the pixels in its inner
part (hue does not change with lighting); lighting is the body's brightness against the palette's. A clip's identity
is the per-cell majority over frames, its pose the median angle and side and brightness, its direction the centre's
net displacement.

Chance for identity accuracy (cells read right, of GRID^2) is 1 / len(PALETTE) (1/6 with the 2x2 grid of 6 colours);
for the whole identity len(PALETTE)^-(GRID^2).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mgjax.data.characters import GRID, LIGHTS, PALETTE, SIZES, TILTS, body_coordinates, identity_cells
from mgjax.data.moving_shapes import COLORS
from mgjax.eval.shapes_evaluator import MIN_CHROMA, MIN_MOTION, _drop_specks, _hue_chroma, nearest_hue

ANGLES = np.arange(-45.0, 45.0, 1.0)
CELL_INNER = 0.3  # read a cell within this distance of its centre, in cell widths (0.5 would reach its edges)
MIN_BODY_PIXELS = 12  # fewer saturated pixels than this: no character in the frame
_PALETTE_RGB = np.array([COLORS[c] for c in PALETTE], np.float64)
_PALETTE_HUES = _hue_chroma(_PALETTE_RGB / 255.0)[0]
POSE_ATTRIBUTES = ("tilt", "size", "light")


@dataclasses.dataclass(frozen=True)
class Reading:
    """What one clip shows. `cells`: palette indices (GRID, GRID), -1 where unreadable; pose words as in the data;
    `direction`: left/right/up/down or None (still, or no character found)."""

    cells: np.ndarray
    tilt: str | None
    size: str | None
    light: str | None
    direction: str | None
    angle: float
    found: bool

    def pose(self) -> tuple[str | None, str | None, str | None]:
        return self.tilt, self.size, self.light


def _hue_labels(pixels: np.ndarray) -> np.ndarray:
    """Nearest character palette colour of uint8-valued RGB pixels (..., 3) -> (...)."""
    return nearest_hue(_hue_chroma(pixels / 255.0)[0], _PALETTE_HUES)


def read_frame(frame: np.ndarray) -> dict | None:
    """The character in one uint8 frame (h w 3): centre, side (px), angle, cells, brightness; None if absent."""
    h, w, _ = frame.shape
    rgb = frame.astype(np.float64)
    body = _drop_specks((_hue_chroma(rgb / 255.0)[1] >= MIN_CHROMA)[None])[0]
    if body.sum() < MIN_BODY_PIXELS:
        return None
    rows, cols = np.nonzero(body)
    centre = np.array([[rows.mean() + 0.5, cols.mean() + 0.5]])
    side = float(np.sqrt(body.sum()))
    best, best_iou = 0.0, -1.0
    for angle in ANGLES:
        down, across = body_coordinates(side, angle, centre, h, w)
        square = ((down > 0) & (down < 1) & (across > 0) & (across < 1))[0]
        iou = (square & body).sum() / max(1, (square | body).sum())
        if iou > best_iou:
            best, best_iou = float(angle), iou
    down, across = (x[0] for x in body_coordinates(side, best, centre, h, w))
    cells = np.full((GRID, GRID), -1)
    for i in range(GRID):
        for j in range(GRID):
            near = (np.abs(down * GRID - i - 0.5) < CELL_INNER) & (np.abs(across * GRID - j - 0.5) < CELL_INNER) & body
            if near.any():
                cells[i, j] = np.bincount(_hue_labels(rgb[near]), minlength=len(PALETTE)).argmax()
    labels = _hue_labels(rgb[body])
    brightness = float(np.median(rgb[body].max(-1) / _PALETTE_RGB[labels].max(-1)))
    return {"centre": centre[0], "side": side / min(h, w), "angle": best, "cells": cells, "brightness": brightness}


def _nearest(value: float, table: dict) -> str:
    return min(table, key=lambda k: abs(table[k] - value))


def read_clip(video: np.ndarray) -> Reading:
    """uint8 (t h w 3) -> the clip's Reading (an image is a one-frame clip)."""
    frames = [r for r in (read_frame(f) for f in video) if r is not None]
    if not frames:
        return Reading(np.full((GRID, GRID), -1), None, None, None, None, float("nan"), False)
    votes = np.stack([r["cells"] for r in frames])
    cells = np.full((GRID, GRID), -1)
    for i in range(GRID):
        for j in range(GRID):
            read = votes[:, i, j][votes[:, i, j] >= 0]
            if read.size:
                cells[i, j] = np.bincount(read, minlength=len(PALETTE)).argmax()
    angle = float(np.median([r["angle"] for r in frames]))
    size = _nearest(float(np.median([r["side"] for r in frames])), SIZES)
    light = _nearest(float(np.median([r["brightness"] for r in frames])), LIGHTS)
    direction = None
    if len(frames) > 1:
        d_row, d_col = (frames[-1]["centre"] - frames[0]["centre"]) / min(video.shape[1:3])
        if max(abs(d_row), abs(d_col)) >= MIN_MOTION / 2:  # the slow speed travels 0.12 of the short side
            direction = ("down" if d_row > 0 else "up") if abs(d_row) > abs(d_col) else ("right" if d_col > 0 else
                                                                                          "left")
    return Reading(cells, _nearest(angle, TILTS), size, light, direction, angle, True)


def identity_accuracy(reading: Reading, identity: int) -> float:
    """Share of the cells read as the identity's colour (chance 1 / len(PALETTE))."""
    return float(np.mean(reading.cells == identity_cells(identity)))


def copied(reading: Reading, prompt_pose: tuple, reference_pose: tuple) -> tuple[int, int]:
    """(attributes where the clip shows the reference's pose instead of the prompt's, attributes where the two
    differ): the copy-paste count of one clip."""
    differ = [i for i in range(len(POSE_ATTRIBUTES)) if prompt_pose[i] != reference_pose[i]]
    got = reading.pose()
    return sum(got[i] == reference_pose[i] for i in differ), len(differ)


def judge(videos, identities, prompt_poses, directions, reference_poses=None) -> dict:
    """Scores over clips: identity accuracy (cells) and exact identities, direction and pose adherence to the prompt,
    and, given the references' poses, the copy-paste rate (of the pose attributes where prompt and reference differ,
    the share the clip took from the reference)."""
    readings = [read_clip(v) for v in videos]
    out = {"clips": len(readings), "found": float(np.mean([r.found for r in readings])),
           "identity_accuracy": float(np.mean([identity_accuracy(r, i) for r, i in zip(readings, identities)])),
           "identity_exact": float(np.mean([identity_accuracy(r, i) == 1.0 for r, i in zip(readings, identities)])),
           "identity_chance": 1.0 / len(PALETTE)}
    moving = [(r, d) for r, d in zip(readings, directions) if d is not None]
    if moving:
        out["direction"] = float(np.mean([r.direction == d for r, d in moving]))
    for k, name in enumerate(POSE_ATTRIBUTES):
        out[name] = float(np.mean([r.pose()[k] == p[k] for r, p in zip(readings, prompt_poses)]))
    if reference_poses is not None:
        counts = np.array([copied(r, p, q) for r, p, q in zip(readings, prompt_poses, reference_poses)])
        out["copy_paste_rate"] = float(counts[:, 0].sum() / max(1, counts[:, 1].sum()))
    return out
