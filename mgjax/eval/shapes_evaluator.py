"""Judge from the pixels alone (no learned model) whether a Moving Shapes video matches its caption.

Pixels saturated enough to be an object get the palette colour nearest in hue (hue survives the
darkening, desaturation and blur of generated videos; the backgrounds are grey). Per colour and
frame, isolated specks are dropped and so are pixels far from the colour's bulk; what is left is
one object. Its centroid track gives the direction (net displacement of a least-squares line,
largest axis). Its pixels at least half as saturated as the object (the half-maximum contour,
which undoes a blur) give the shape by bounding-box fill (square ~1, circle ~0.785, triangle
~0.5; the apex-up triangle also keeps ~3/4 of its area in its lower half), voted over frames."""

import re

import numpy as np

from mgjax.data.moving_shapes import COLORS, DIRECTION_WORDS, SHAPES, SIZE_WORDS, SPEED_WORDS

MIN_CHROMA = 0.25  # object pixels have chroma ~0.6-0.75, the grey backgrounds below 0.05
MIN_AREA_FRACTION = 0.01  # smallest object (small triangle) covers ~3% of the frame
WINDOW_FRACTION = 0.35  # pixels farther than this (of the short side) from a colour's median are strays
MIN_MOTION = 0.08  # net displacement (fraction of the frame) below which an object counts as static; "slowly" is 0.25
TRIANGLE_MAX_FILL, TRIANGLE_MIN_LOWER_HALF, SQUARE_MIN_FILL = 0.65, 0.62, 0.89

_COLOR_NAMES = tuple(COLORS)
_DIRECTION_TOKENS = {  # "to the left" -> "left"
    phrase.split()[-1]: direction for direction, phrases in DIRECTION_WORDS.items() for phrase in phrases
}
_SIZE_TOKENS = {word: size for size, words in SIZE_WORDS.items() for word in words}
_SPEED_TOKENS = {word: speed for speed, words in SPEED_WORDS.items() for word in words}


def parse_caption(caption: str) -> list[dict]:
    """Objects named by a caption, in order: {"color", "shape", "direction", "size", "speed"} (None when unsaid), and
    "color_at" / "direction_at": the character offsets of those words in the caption (None when unsaid).

    A colour word starts an object; a size word binds to the next object, the other words to the current one.
    """
    objects, pending_size = [], None
    for match in re.finditer(r"[a-z]+", caption.lower()):
        token = match.group()
        if token in _SIZE_TOKENS:
            pending_size = _SIZE_TOKENS[token]
        elif token in COLORS:
            objects.append({"color": token, "shape": None, "direction": None, "size": pending_size, "speed": None,
                            "color_at": match.start(), "direction_at": None})
            pending_size = None
        elif objects and token in SHAPES:
            objects[-1]["shape"] = token
        elif objects and token in _DIRECTION_TOKENS:
            objects[-1]["direction"] = _DIRECTION_TOKENS[token]
            objects[-1]["direction_at"] = match.start()
        elif objects and token in _SPEED_TOKENS:
            objects[-1]["speed"] = _SPEED_TOKENS[token]
    return objects


def detect_objects(video: np.ndarray) -> list[dict]:
    """One object per palette colour present: {"color", "shape", "direction", "centroids", "area"}.

    video: uint8, or float in [0, 1], (t h w 3). "centroids" is (t 2) as (row, col) in pixels, NaN in
    frames where the object was not found; "area" is its median pixel count; "direction" is None for a
    still image or an object that barely moves.
    """
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"expected a (t, h, w, 3) video, got shape {video.shape}")
    frames = video / 255.0 if video.dtype == np.uint8 else np.clip(video, 0.0, 1.0)
    num_frames, height, width, _ = frames.shape
    labels, chroma = _palette_labels(frames)
    min_area = MIN_AREA_FRACTION * height * width
    window = WINDOW_FRACTION * min(height, width)
    objects = []
    for index in np.flatnonzero(np.bincount(labels[labels >= 0], minlength=len(COLORS)) >= min_area * num_frames / 2):
        masks = _drop_specks(labels == index)
        if masks.sum() < min_area * num_frames / 2:
            continue
        # The half-maximum contour of a blurred edge is the sharp edge, and it is far from noise-flipped pixels.
        shape_masks = _drop_specks(masks & (chroma >= 0.5 * np.percentile(chroma[masks], 90)))
        frame_stats = [_frame_stats(*frame_masks, min_area, window) for frame_masks in zip(masks, shape_masks)]
        found = [stats for stats in frame_stats if stats is not None]
        if len(found) < num_frames / 2:
            continue
        shapes = [_classify_shape(stats["fill"], stats["lower_half"]) for stats in found]
        centroids = np.array([stats["centroid"] if stats else (np.nan, np.nan) for stats in frame_stats])
        objects.append(
            {
                "color": _COLOR_NAMES[index],
                "shape": max(SHAPES, key=shapes.count),
                "direction": _direction(centroids, height, width),
                "centroids": centroids,
                "area": float(np.median([stats["area"] for stats in found])),
            }
        )
    return objects


def score(video: np.ndarray, caption: str) -> dict[str, bool]:
    """Per attribute, whether the video matches the caption; "direction" only when the caption has motion.

    Detected objects are matched to caption objects by colour. Colour is right when the detected
    colours are exactly the caption's; shape and direction are right when right for every caption object.
    """
    wanted = parse_caption(caption)
    detected = {obj["color"]: obj for obj in detect_objects(video)}
    matches = [(obj, detected.get(obj["color"])) for obj in wanted]
    result = {
        "color": bool(wanted) and set(detected) == {obj["color"] for obj in wanted},
        "shape": bool(wanted) and all(found is not None and found["shape"] == obj["shape"] for obj, found in matches),
    }
    if any(obj["direction"] is not None for obj in wanted):
        result["direction"] = all(
            found is not None and found["direction"] == obj["direction"] for obj, found in matches
        )
    return result


def accuracy(videos, captions) -> dict[str, float]:
    """Mean of score() per attribute over the videos that have it (direction: videos whose captions have motion)."""
    totals, counts = {}, {}
    for video, caption in zip(videos, captions, strict=True):
        for attribute, correct in score(np.asarray(video), caption).items():
            totals[attribute] = totals.get(attribute, 0) + correct
            counts[attribute] = counts.get(attribute, 0) + 1
    return {attribute: totals[attribute] / counts[attribute] for attribute in totals}


def _hue_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue angle (radians) and chroma of RGB in [0, 1], via the opponent-colour plane: (...) each."""
    red, green, blue = np.moveaxis(rgb, -1, 0)
    alpha = red - (green + blue) / 2
    beta = (green - blue) * (np.sqrt(3) / 2)
    return np.arctan2(beta, alpha), np.hypot(alpha, beta)


_PALETTE_HUES = _hue_chroma(np.array(list(COLORS.values())) / 255.0)[0]


def nearest_hue(hue: np.ndarray, hues: np.ndarray) -> np.ndarray:
    """Index of the nearest of `hues` (radians, around the circle) for each hue: (...) -> (...)."""
    return np.abs((hue[..., None] - hues + np.pi) % (2 * np.pi) - np.pi).argmin(-1)


def _palette_labels(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest palette hue index per pixel (-1 where too unsaturated: background), and chroma: (t h w) each."""
    hue, chroma = _hue_chroma(frames)
    saturated = chroma >= MIN_CHROMA
    labels = np.full(chroma.shape, -1)
    labels[saturated] = nearest_hue(hue[saturated], _PALETTE_HUES)
    return labels, chroma


def _drop_specks(masks: np.ndarray) -> np.ndarray:
    """Keep pixels with at least two set pixels among their 8 neighbours: bool (t h w) -> bool (t h w)."""
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    height, width = masks.shape[1:]
    counts = sum(padded[:, dr : dr + height, dc : dc + width] for dr in range(3) for dc in range(3))
    return masks & (counts >= 3)


def _frame_stats(mask: np.ndarray, shape_mask: np.ndarray, min_area: float, window: float) -> dict | None:
    """One colour in one frame: area and centroid of its mask, box fill and lower-half share of its shape mask.

    mask: (h w) pixels of the colour; shape_mask: (h w) those at least half as saturated as the object.
    Pixels farther than `window` from the mask's median are strays and ignored. None if too small.
    """
    rows, cols = np.nonzero(mask)
    if rows.size < min_area:
        return None
    center_row, center_col = np.median(rows), np.median(cols)
    near = (np.abs(rows - center_row) <= window) & (np.abs(cols - center_col) <= window)
    if near.sum() < min_area:
        return None
    shape_rows, shape_cols = np.nonzero(shape_mask)
    shape_near = (np.abs(shape_rows - center_row) <= window) & (np.abs(shape_cols - center_col) <= window)
    if not shape_near.any():
        return None
    shape_rows, shape_cols = shape_rows[shape_near], shape_cols[shape_near]
    top, bottom = shape_rows.min(), shape_rows.max()
    middle = (top + bottom) / 2
    box_area = (bottom - top + 1) * (shape_cols.max() - shape_cols.min() + 1)
    return {
        "area": float(near.sum()),
        "centroid": (rows[near].mean() + 0.5, cols[near].mean() + 0.5),
        "fill": shape_rows.size / box_area,
        "lower_half": (np.sum(shape_rows > middle) + 0.5 * np.sum(shape_rows == middle)) / shape_rows.size,
    }


def _classify_shape(fill: float, lower_half: float) -> str:
    if fill < TRIANGLE_MAX_FILL or lower_half > TRIANGLE_MIN_LOWER_HALF:
        return "triangle"
    return "square" if fill >= SQUARE_MIN_FILL else "circle"


def _direction(centroids: np.ndarray, height: int, width: int) -> str | None:
    """Direction of the net displacement of a least-squares line through the centroids (t 2)."""
    times = np.flatnonzero(~np.isnan(centroids[:, 0]))
    if times.size < 2:
        return None
    points = centroids[times]
    centered = times - times.mean()
    velocity = centered @ (points - points.mean(0)) / (centered @ centered)  # pixels per frame, (row, col)
    displacement = velocity * (len(centroids) - 1) / np.array([height, width])
    axis = int(np.argmax(np.abs(displacement)))
    if abs(displacement[axis]) < MIN_MOTION:
        return None
    if axis == 0:
        return "down" if displacement[0] > 0 else "up"
    return "right" if displacement[1] > 0 else "left"
