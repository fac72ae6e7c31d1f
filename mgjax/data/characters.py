"""Characters: Moving Shapes with an identity, for personalized video (PT2V, paper §4).

A character is a square body tiled by a 2x2 grid of coloured cells; the grid is its identity (6 colours ^ 4 cells =
1,296 identities). It moves like a Moving Shapes object (direction, speed) in a pose: a tilt (the body rotated),
a size and a lighting (the whole frame scaled in brightness). Captions name the motion and the pose, never the
identity: what the character looks like can only come from a reference image.

References, as in the paper (§4.2): *paired*, a frame of the same clip with the background removed (the subject
masked onto a flat grey) and recentred on the subject (the paper crops around the face), whose pose is the clip's, so
a model may learn to copy it; and *cross-paired*, the same
identity rendered still, centred, in another pose and lighting (the paper's synthetic cross-pairs).

Held out: identities whose hashed index falls in one of 8 buckets (`is_heldout_identity`), scattered over the whole
identity space (no cell or colour is held out), never drawn for training.

Geometry is in fractions of the frame's short side, so a spec renders at any size and frame count.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mgjax.data.moving_shapes import BACKGROUNDS, COLORS, DIRECTION_VECTORS, DIRECTIONS, MIN_SIDE, _background

GRID = 2  # a 3x3 grid of 4 colours (4 px cells at 32 px) was more than the tiny backbone could draw: docs/pt2v.md
PALETTE = ("red", "yellow", "green", "cyan", "blue", "magenta")  # hues 60 degrees apart: read under any lighting
NUM_IDENTITIES = len(PALETTE) ** (GRID * GRID)
TILTS = {"tilted left": -25.0, "upright": 0.0, "tilted right": 25.0}  # degrees, counter-clockwise negative
TILT_JITTER = 5.0  # each clip's angle is its tilt's +- this
SIZES = {"small": 0.36, "large": 0.48}  # body side / short side of the frame
SPEEDS = {"slowly": 0.12, "quickly": 0.25}  # whole-clip travel / short side: a large body tilted 30 degrees still fits
LIGHTS = {"dim": 0.6, "bright": 1.0}  # the frame's brightness
REFERENCE_FILL = 128  # the flat grey a reference's background is replaced by
SPLITS = ("train", "heldout")
HELDOUT_BUCKETS = 8  # 1 identity in 8 is held out

TILT_WORDS = {"tilted left": ("tilted left", "leaning left"), "upright": ("upright", "standing straight"),
              "tilted right": ("tilted right", "leaning right")}
LIGHT_WORDS = {"dim": ("in dim light", "in the dark"), "bright": ("in bright light", "in daylight")}
MOTION_WORDS = {"left": ("left", "to the left"), "right": ("right", "to the right"), "up": ("up", "upward"),
                "down": ("down", "downward")}


def identity_cells(identity: int) -> np.ndarray:
    """The identity's cell colours as palette indices, (GRID, GRID), row by row from the body's top-left."""
    if not 0 <= identity < NUM_IDENTITIES:
        raise ValueError(f"identity must be in [0, {NUM_IDENTITIES}), got {identity}")
    digits = [(identity // len(PALETTE) ** i) % len(PALETTE) for i in range(GRID * GRID)]
    return np.array(digits).reshape(GRID, GRID)


def is_heldout_identity(identity: int) -> bool:
    """A multiplicative hash, so held-out identities share no cell pattern the training ones lack."""
    return ((identity * 2654435761) % 2 ** 32) >> 29 == 0  # the top 3 bits of the hash: 1 in 8


@dataclasses.dataclass(frozen=True)
class Pose:
    tilt: str
    angle: float  # degrees; the tilt's angle plus jitter
    size: str
    light: str


@dataclasses.dataclass(frozen=True)
class CharacterSpec:
    identity: int
    pose: Pose
    direction: str | None  # None: a still image
    speed: str | None
    start: tuple[float, float]  # first-frame centre (row, col), frame fractions
    background: str


def draw_pose(rng: np.random.Generator, unlike: Pose | None = None) -> Pose:
    """A random pose; with `unlike`, one that differs from it in at least one of tilt, size and lighting."""
    while True:
        tilt = str(rng.choice(list(TILTS)))
        pose = Pose(tilt, TILTS[tilt] + float(rng.uniform(-TILT_JITTER, TILT_JITTER)), str(rng.choice(list(SIZES))),
                    str(rng.choice(list(LIGHTS))))
        if unlike is None or (pose.tilt, pose.size, pose.light) != (unlike.tilt, unlike.size, unlike.light):
            return pose


def body_extent(pose: Pose) -> float:
    """Half the rotated body's bounding box, in short-side fractions."""
    a = np.deg2rad(abs(pose.angle))
    return SIZES[pose.size] / 2 * (np.cos(a) + np.sin(a))


def centers(spec: CharacterSpec, num_frames: int, height: int, width: int) -> np.ndarray:
    """Body centre per frame in pixels, (t, 2) as (row, col)."""
    progress = np.linspace(0.0, 1.0, num_frames)[:, None]
    motion = np.zeros(2)
    if spec.direction is not None:
        motion = np.array(DIRECTION_VECTORS[spec.direction]) * SPEEDS[spec.speed] * min(height, width)
    return np.array(spec.start) * np.array([height, width]) + motion * progress


def render(spec: CharacterSpec, num_frames: int, height: int, width: int, rng_or_seed) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 video (t h w 3), bool body mask (t h w)); the rng only varies the background texture."""
    rng = np.random.default_rng(rng_or_seed)
    background = _background(spec.background, height, width, rng).astype(np.float32)
    video = np.repeat(background[None], num_frames, axis=0)
    cells, inside = cell_map(spec.pose, centers(spec, num_frames, height, width), height, width)
    palette = np.array([COLORS[c] for c in PALETTE], np.float32)
    video[inside] = palette[identity_cells(spec.identity).reshape(-1)[cells[inside]]]
    video = np.clip(video * LIGHTS[spec.pose.light], 0, 255)
    return video.round().astype(np.uint8), inside


def body_coordinates(side: float, angle: float, centres: np.ndarray, height: int, width: int):
    """Per pixel of each frame, its position on a body of `side` pixels turned by `angle` degrees (positive:
    clockwise on screen) centred at `centres` (t, 2): (down, across) offsets from the body's top-left corner in
    units of the side, (t h w) each; 0..1 on the body."""
    a = np.deg2rad(angle)
    rows = np.arange(height)[None, :, None] + 0.5 - centres[:, 0, None, None]
    cols = np.arange(width)[None, None, :] + 0.5 - centres[:, 1, None, None]
    down = (np.cos(a) * rows - np.sin(a) * cols) / side + 0.5
    across = (np.sin(a) * rows + np.cos(a) * cols) / side + 0.5
    return down, across


def cell_map(pose: Pose, centres: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of each frame, the body cell it shows (row-major index, (t h w)) and whether it is on the body."""
    down, across = body_coordinates(SIZES[pose.size] * min(height, width), pose.angle, centres, height, width)
    inside = (down > 0) & (down < 1) & (across > 0) & (across < 1)
    cells = np.clip((down * GRID).astype(int), 0, GRID - 1) * GRID + np.clip((across * GRID).astype(int), 0, GRID - 1)
    return cells, inside


def mask_reference(frame: np.ndarray, body: np.ndarray) -> np.ndarray:
    """A frame with everything but the subject replaced by flat grey (the paper's masked reference)."""
    return np.where(body[..., None], frame, np.uint8(REFERENCE_FILL)).astype(np.uint8)


def centred(reference: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A masked frame moved by whole pixels so the subject's centre (row, col) sits at the frame's centre, as the
    paper crops its reference around the face: the subject's pixels unchanged, only the flat grey wraps around."""
    h, w = reference.shape[:2]
    shift = (int(round(h / 2 - centre[0])), int(round(w / 2 - centre[1])))
    return np.roll(reference, shift, axis=(0, 1))


def caption(spec: CharacterSpec, rng: np.random.Generator) -> str:
    """Motion and pose in words, in a random order and phrasing; never the identity."""
    p = spec.pose
    noun = f"a {p.size} character {rng.choice(TILT_WORDS[p.tilt])}"
    light = str(rng.choice(LIGHT_WORDS[p.light]))
    if spec.direction is None:
        return f"{noun} {light}"
    motion = f"moving {rng.choice(MOTION_WORDS[spec.direction])}"
    if spec.speed == "quickly":
        motion += " quickly"
    return f"{noun} {motion} {light}" if rng.random() < 0.5 else f"{light}, {noun} {motion}"


class Characters:
    """Random-access, picklable source of {"video", "caption", "reference" (paired), "cross_reference",
    "identity", "pose", "cross_pose"}: uint8 images of the clip's size; poses as (tilt, size, light) strings."""

    def __init__(self, split: str = "train", *, num_frames: int = 4, height: int = 32, width: int = 32, seed: int = 0,
                 length: int = 1_000_000):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if num_frames < 1 or min(height, width) < MIN_SIDE:
            raise ValueError(f"need num_frames >= 1 and sides >= {MIN_SIDE}, got {num_frames} x {height}x{width}")
        self.split, self.num_frames, self.height, self.width = split, num_frames, height, width
        self.seed, self.length = seed, length

    def __len__(self) -> int:
        return self.length

    def spec(self, index: int) -> tuple[CharacterSpec, Pose, np.random.Generator]:
        """The clip's spec, the cross-reference's pose, and the generator the rest of the item draws from."""
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), int(index), 53])
        heldout = self.split == "heldout"
        identity = int(rng.integers(NUM_IDENTITIES))
        while is_heldout_identity(identity) != heldout:
            identity = int(rng.integers(NUM_IDENTITIES))
        pose = draw_pose(rng)
        still = self.num_frames == 1
        direction = None if still else str(rng.choice(DIRECTIONS))
        speed = None if still else str(rng.choice(list(SPEEDS)))
        short = min(self.height, self.width)
        margin = body_extent(pose) * short + 1.0  # pixels the centre keeps from each edge
        path = np.zeros(2) if still else np.array(DIRECTION_VECTORS[direction]) * SPEEDS[speed] * short
        start = []
        for axis, extent in enumerate((self.height, self.width)):
            low = margin - min(0.0, path[axis])
            high = extent - margin - max(0.0, path[axis])
            start.append(float(rng.uniform(low, max(low, high))) / extent)
        spec = CharacterSpec(identity, pose, direction, speed, (start[0], start[1]), str(rng.choice(BACKGROUNDS)))
        return spec, draw_pose(rng, unlike=pose), rng

    def __getitem__(self, index: int) -> dict:
        spec, cross_pose, rng = self.spec(index)
        video, body = render(spec, self.num_frames, self.height, self.width, rng)
        k = int(rng.integers(self.num_frames))  # the paired reference: any frame of the clip
        still = dataclasses.replace(spec, pose=cross_pose, direction=None, speed=None, start=(0.5, 0.5))
        cross, cross_body = render(still, 1, self.height, self.width, rng)
        pose = lambda p: (p.tilt, p.size, p.light)
        paired = centred(mask_reference(video[k], body[k]), centers(spec, self.num_frames, self.height, self.width)[k])
        return {"video": video, "caption": caption(spec, rng), "reference": paired,
                "cross_reference": mask_reference(cross[0], cross_body[0]), "identity": spec.identity,
                "pose": pose(spec.pose), "cross_pose": pose(cross_pose)}
