"""Moving Shapes: procedural text-video pairs, deterministic by seed, for tiny text-to-video runs.

Each sample shows one or two flat, saturated shapes (circle, square, triangle) moving in a
straight line over a still, low-saturation grey background. The caption always names
colour, shape and direction, and sometimes size, speed and background. A one-frame clip
is a still image: its objects have no direction or speed and its caption names no motion.

Held-out split (compositional generalisation): a video object's combination is
(colour, shape, direction); it is held out when `(color_index + shape_index + direction_index)
% 6 == 0`, which removes 12 of the 72 combinations yet leaves every (colour, shape),
(colour, direction) and (shape, direction) pair in training. An image object's combination
is (colour, shape), held out when `(color_index + shape_index) % 6 == 0`: red circle,
cyan square and magenta triangle; every colour keeps two shapes and every shape five
colours in training. In "train" every object is a training combination; in "heldout"
every object is a held-out one.

Geometry is stored in fractions of the frame, so one spec renders at any resolution with
the aspect ratio it was sampled for, and at any frame count (the clip spans the same path).
"""

import dataclasses
import operator

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLORS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 235),
    "yellow": (235, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 215, 220),
}
DIRECTIONS = ("left", "right", "up", "down")
# (d_row, d_col): rows grow downwards, so "up" decreases the row.
DIRECTION_VECTORS = {"left": (0.0, -1.0), "right": (0.0, 1.0), "up": (-1.0, 0.0), "down": (1.0, 0.0)}
# Bounding-box side as a fraction of the frame's short side.
SIZES = {"small": 0.25, "large": 0.375}
# Displacement over the whole clip as a fraction of the frame extent along the motion.
SPEEDS = {"slowly": 0.25, "quickly": 0.45}
BACKGROUNDS = ("plain", "noisy", "striped", "checkered")
SPLITS = ("train", "heldout")
MIN_SIDE = 16  # below this a small shape spans ~4 px and circle/square become indistinguishable

# Caption vocabulary: attribute -> interchangeable phrasings.
SIZE_WORDS = {"small": ("small", "little"), "large": ("large", "big")}
SPEED_WORDS = {"slowly": ("slowly",), "quickly": ("quickly", "fast")}
DIRECTION_WORDS = {
    "left": ("left", "to the left", "leftward"),
    "right": ("right", "to the right", "rightward"),
    "up": ("up", "upward", "upwards"),
    "down": ("down", "downward", "downwards"),
}
BACKGROUND_WORDS = {
    "plain": ("plain", "grey"),
    "noisy": ("noisy", "grainy"),
    "striped": ("striped",),
    "checkered": ("checkered", "checkerboard"),
}
VIDEO_TEMPLATES = (
    "{noun} moving {motion}",
    "{noun} moves {motion}",
    "{noun} drifting {motion}",
    "{noun} sliding {motion}",
    "{noun} travelling {motion}",
)
SENTENCE_TEMPLATES = ("{noun} moves {motion}",)
VIDEO_PREFIXES = ("", "a video of ", "an animation of ")
IMAGE_PREFIXES = ("", "a photo of ", "an image of ", "a picture of ")

# Two objects are re-placed until their paths never touch; sizes and speeds are redrawn only when
# placement keeps failing (two large objects quickly crossing paths often cannot avoid each other).
_PLACEMENT_TRIES = 20
_REDRAWS = 10
_GAP_PX = 1.0  # minimum gap between two objects' bounding boxes, so they never touch


@dataclasses.dataclass(frozen=True)
class ShapeObject:
    shape: str
    color: str
    size: str
    direction: str | None  # None for still images
    speed: str | None  # None for still images


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    objects: tuple[ShapeObject, ...]
    background: str
    caption: str
    starts: tuple[tuple[float, float], ...]  # per object, first-frame centre (row, col) as frame fractions


def is_heldout_combo(color: str, shape: str, direction: str | None) -> bool:
    """Whether an object's attribute combination is held out of training (`direction=None`: image rule)."""
    index_sum = list(COLORS).index(color) + SHAPES.index(shape)
    if direction is not None:
        index_sum += DIRECTIONS.index(direction)
    return index_sum % 6 == 0


def object_radius(size: str, height: int, width: int) -> float:
    """Half the bounding-box side of an object, in pixels."""
    return SIZES[size] * min(height, width) / 2


def object_centers(spec: SampleSpec, num_frames: int, height: int, width: int) -> np.ndarray:
    """Bounding-box centres in pixels, (row, col): (n t 2) for n objects."""
    progress = np.linspace(0.0, 1.0, num_frames)
    starts = np.array(spec.starts)
    motions = np.array([_displacement(obj) for obj in spec.objects])
    fractions = starts[:, None] + motions[:, None] * progress[None, :, None]
    return fractions * np.array([height, width])


def render(spec: SampleSpec, num_frames: int, height: int, width: int, rng_or_seed,
           level_spread: float = 1.0) -> np.ndarray:
    """Draw a spec with hard edges; the rng only varies the background texture: uint8 (t h w 3)."""
    rng = np.random.default_rng(rng_or_seed)
    background = _background(spec.background, height, width, rng, level_spread)
    video = np.repeat(background[None], num_frames, axis=0)
    rows = np.arange(height)[None, :, None] + 0.5  # pixel centres
    cols = np.arange(width)[None, None, :] + 0.5
    for obj, centers in zip(spec.objects, object_centers(spec, num_frames, height, width)):
        d_row = rows - centers[:, 0, None, None]
        d_col = cols - centers[:, 1, None, None]
        mask = _shape_mask(obj.shape, d_row, d_col, object_radius(obj.size, height, width))
        video[mask] = COLORS[obj.color]
    return video


def make_caption(
    objects: tuple[ShapeObject, ...], background: str, rng: np.random.Generator, template: int | None = None
) -> str:
    """Phrase the attributes of a scene; `template` forces the index into VIDEO_TEMPLATES (unused for images)."""
    still = objects[0].direction is None
    if template is None:
        template = int(rng.integers(len(VIDEO_TEMPLATES)))
    if still:
        prefix = _pick(rng, IMAGE_PREFIXES)
    else:  # "a video of a circle moves left" is ungrammatical: sentences take no prefix
        prefix = "" if VIDEO_TEMPLATES[template] in SENTENCE_TEMPLATES else _pick(rng, VIDEO_PREFIXES)
    article = "a " if prefix or rng.random() < 0.7 else ""
    with_size, with_speed, with_background = rng.random(3) < 0.5
    phrases = []
    for obj in objects:
        noun = f"{obj.color} {obj.shape}"
        if with_size:
            noun = f"{_pick(rng, SIZE_WORDS[obj.size])} {noun}"
        if still:
            phrases.append(article + noun)
            continue
        motion = _pick(rng, DIRECTION_WORDS[obj.direction])
        if with_speed:
            motion = f"{motion} {_pick(rng, SPEED_WORDS[obj.speed])}"
        phrases.append(article + VIDEO_TEMPLATES[template].format(noun=noun, motion=motion))
    caption = prefix + " and ".join(phrases)
    if with_background:
        caption += f" on a {_pick(rng, BACKGROUND_WORDS[background])} background"
    return caption


class MovingShapes:
    """Random-access, picklable source of {"video": uint8 (t h w 3), "caption": str} samples."""

    def __init__(
        self,
        split: str = "train",
        *,
        num_frames: int = 8,
        height: int = 32,
        width: int = 32,
        seed: int = 0,
        length: int = 1_000_000,
        two_object_prob: float = 0.3,
        textured_prob: float = 0.5,
        start_spread: float = 1.0,
        background_level_spread: float = 1.0,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if min(height, width) < MIN_SIDE:
            raise ValueError(
                f"height and width must be >= {MIN_SIDE} for shapes to be recognisable, got {height}x{width}"
            )
        if length < 0 or not 0 <= two_object_prob <= 1 or not 0 <= textured_prob <= 1:
            raise ValueError("length must be >= 0 and probabilities in [0, 1]")
        if not 0 <= start_spread <= 1:
            raise ValueError(f"start_spread must be in [0, 1], got {start_spread}")
        if not 0 <= background_level_spread <= 1:
            raise ValueError(f"background_level_spread must be in [0, 1], got {background_level_spread}")
        self.split, self.num_frames, self.height, self.width = split, num_frames, height, width
        self.seed, self.length = seed, length
        self.two_object_prob, self.textured_prob, self.start_spread = two_object_prob, textured_prob, start_spread
        self.background_level_spread = background_level_spread
        directions = (None,) if num_frames == 1 else DIRECTIONS
        self._combos = tuple(
            (color, shape, direction)
            for color in COLORS
            for shape in SHAPES
            for direction in directions
            if is_heldout_combo(color, shape, direction) == (split == "heldout")
        )

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (
            f"MovingShapes(split={self.split!r}, num_frames={self.num_frames}, height={self.height}, "
            f"width={self.width}, seed={self.seed}, length={self.length}, "
            f"two_object_prob={self.two_object_prob}, textured_prob={self.textured_prob}, "
            f"start_spread={self.start_spread}, background_level_spread={self.background_level_spread})"
        )

    def spec(self, index: int) -> SampleSpec:
        return self._sample_spec(self._rng(index))

    def __getitem__(self, index: int) -> dict:
        rng = self._rng(index)
        spec = self._sample_spec(rng)  # the same rng then draws the background texture
        video = render(spec, self.num_frames, self.height, self.width, rng, self.background_level_spread)
        return {"video": video, "caption": spec.caption}

    def _rng(self, index) -> np.random.Generator:
        index = operator.index(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        return np.random.default_rng([self.seed, SPLITS.index(self.split), index])

    def _sample_spec(self, rng: np.random.Generator) -> SampleSpec:
        combos = [_pick(rng, self._combos)]
        if rng.random() < self.two_object_prob:
            combos.append(_pick(rng, [c for c in self._combos if c[0] != combos[0][0]]))
        for _ in range(_REDRAWS):
            objects = tuple(self._sample_object(combo, rng) for combo in combos)
            starts = self._sample_starts(objects, rng)
            if starts is not None:
                break
        else:  # the later object is drawn on top
            starts = tuple(self._sample_start(obj, rng, crowded=True) for obj in objects)
        background = _pick(rng, BACKGROUNDS[1:]) if rng.random() < self.textured_prob else "plain"
        caption = make_caption(objects, background, rng)
        return SampleSpec(objects, background, caption, starts)

    @staticmethod
    def _sample_object(combo, rng: np.random.Generator) -> ShapeObject:
        color, shape, direction = combo
        speed = None if direction is None else _pick(rng, tuple(SPEEDS))
        return ShapeObject(shape, color, _pick(rng, tuple(SIZES)), direction, speed)

    def _sample_starts(self, objects, rng: np.random.Generator) -> tuple[tuple[float, float], ...] | None:
        """First-frame centres keeping two objects apart for the whole clip; None if none were found.

        With a narrowed law (`start_spread` < 1) a pair first tries slots that follow from the caption: the first-named
        object on the low side (top or left) of an axis it does not move along, the second on the high side, both
        otherwise narrowed like an object alone, so the layout stays predictable from the caption; pairs that cannot
        keep apart that way open their cross axes."""
        if len(objects) == 1:
            return (self._sample_start(objects[0], rng),)
        layouts = [(self._pair_slots(objects), False), ((None, None), True)] if self.start_spread < 1 else [
            ((None, None), True)]
        for slots, crowded in layouts:
            for _ in range(_PLACEMENT_TRIES):
                starts = tuple(self._sample_start(obj, rng, slot, crowded) for obj, slot in zip(objects, slots))
                if not self._paths_touch(objects, starts):
                    return starts
        return None

    @staticmethod
    def _pair_slots(objects) -> tuple[tuple[int, int], tuple[int, int]]:
        """(axis, side) per object: its cross axis (0 rows for horizontal movers, 1 columns for vertical ones), shared
        when both move along the same axis; side 0 for the first-named object, 1 for the second."""
        first, second = (int(obj.direction not in ("left", "right")) for obj in objects)
        return (first, 0), (second, 1)

    def _sample_start(self, obj: ShapeObject, rng: np.random.Generator, slot: tuple[int, int] | None = None,
                      crowded: bool = False) -> tuple[float, float]:
        """A first-frame centre from which the whole object stays inside the frame for the whole clip.

        Per axis it is uniform over the central `start_spread` fraction of the allowed range (1: all of it), so a
        smaller spread makes where an object is in each frame more predictable from its caption's direction; a
        `slot` (axis, side) moves that window to the low (0) or high (1) end of the axis. `crowded` narrows only the
        motion axis. Still objects (images) keep the whole range."""
        radius_px = object_radius(obj.size, self.height, self.width)
        narrow_all = obj.direction is not None and not crowded
        start = []
        for axis, (extent, step) in enumerate(zip((self.height, self.width), _displacement(obj))):
            low, high = radius_px / extent, 1 - radius_px / extent
            spread = self.start_spread if step or narrow_all else 1.0
            side = 0.5 if slot is None or slot[0] != axis else slot[1]
            offset = side * (1 - spread) + rng.random() * spread
            start.append(low + max(-step, 0) + offset * (high - low - abs(step)))
        return tuple(start)

    def _paths_touch(self, objects, starts) -> bool:
        """Whether two objects' boxes (plus a gap) ever overlap while both move linearly over the clip."""
        reach = sum(object_radius(obj.size, self.height, self.width) for obj in objects) + _GAP_PX
        first, last = 0.0, 1.0  # clip-time interval in which the boxes overlap on every axis so far
        for axis, extent in enumerate((self.height, self.width)):
            offset = (starts[1][axis] - starts[0][axis]) * extent
            velocity = (_displacement(objects[1])[axis] - _displacement(objects[0])[axis]) * extent
            if velocity == 0:
                if abs(offset) >= reach:
                    return False
                continue
            enter, leave = sorted(((-reach - offset) / velocity, (reach - offset) / velocity))
            first, last = max(first, enter), min(last, leave)
        return first < last


def caption_corpus(num: int = 5000, seed: int = 0, num_frames: int = 8) -> list[str]:
    """Training-split captions for tokenizer training: 3 video captions for every image caption."""
    videos = MovingShapes("train", num_frames=num_frames, seed=seed)
    images = MovingShapes("train", num_frames=1, seed=seed)
    return [(images if i % 4 == 3 else videos).spec(i).caption for i in range(num)]


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _displacement(obj: ShapeObject) -> tuple[float, float]:
    """Whole-clip motion of an object in frame fractions, (d_row, d_col)."""
    if obj.direction is None:
        return (0.0, 0.0)
    d_row, d_col = DIRECTION_VECTORS[obj.direction]
    return (d_row * SPEEDS[obj.speed], d_col * SPEEDS[obj.speed])


def _shape_mask(shape: str, d_row: np.ndarray, d_col: np.ndarray, radius: float) -> np.ndarray:
    """Pixels inside a shape given offsets from its bounding-box centre (t h 1) and (t 1 w): bool (t h w)."""
    if shape == "circle":
        return d_row**2 + d_col**2 <= radius**2
    if shape == "square":
        return (np.abs(d_row) <= radius) & (np.abs(d_col) <= radius)
    # Apex-up isosceles triangle filling the box: half-width grows from 0 at the top to `radius` at the base.
    return (np.abs(d_col) <= (d_row + radius) / 2) & (d_row <= radius)


def _background(kind: str, height: int, width: int, rng: np.random.Generator, level_spread: float = 1.0) -> np.ndarray:
    """Low-saturation grey backdrop, so objects separate from it by saturation: uint8 (h w 3).

    The grey levels are uniform over the central `level_spread` fraction of their ranges (1: all of them; the same
    draws, so the same pixels). A clip's background level is the largest part of its variance that no caption names
    (about half of it), which a model must average away before it sees where the caption puts things (README)."""

    def level(low: float, high: float) -> float:
        middle, half = (low + high) / 2, (high - low) / 2 * level_spread
        return rng.uniform(middle - half, middle + half)

    tint = rng.uniform(-6, 6, size=3)  # keeps chroma below ~5% of full scale
    if kind == "plain":
        grey = np.full((height, width), level(20, 130))
    elif kind == "noisy":
        grey = level(40, 110) + rng.normal(0, 18, size=(height, width))
    else:
        low = level(20, 90)
        high = low + rng.uniform(30, 60)
        period = max(2, round(min(height, width) * rng.uniform(0.1, 0.25)))  # pixels per dark+light pair
        rows, cols = np.ogrid[:height, :width]
        if kind == "striped":
            coordinate = (rows, cols, rows + cols)[int(rng.integers(3))]  # horizontal, vertical, diagonal
            light = (coordinate * 2 // period) % 2
        else:
            light = (rows * 2 // period + cols * 2 // period) % 2
        grey = np.broadcast_to(np.where(light == 1, high, low), (height, width))
    return np.clip(grey[..., None] + tint, 0, 255).astype(np.uint8)
