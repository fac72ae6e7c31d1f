"""Synthetic video edits with exact targets (Movie Gen Edit, paper §5): one Moving Shapes scene rendered before and
after an instruction, so every pixel the instruction does not touch is equal in the two renders.

Edit types: the paper's six (add, remove, replace an object's shape, change its colour (texture), change the
background, change the style of the whole clip) and stage II's generative segmentation ("mark the <object> in
<colour>": the target shows the object filled with that colour). Styles are invertible, so stage III can write the
backward instruction of any forward edit: `negative` (every pixel inverted) and `outline` (objects drawn as their
outlines; backward: filled in again).

Scenes are Moving Shapes scenes (objects and paths from `MovingShapes`) on a backdrop this module draws with explicit
parameters (kind, grey level, contrast, tint, noise seed) and canonical patterns (vertical stripes, checks of one
period), so a background change keeps the level and tint and its target is a function of the input and the words.

Held-out edits: an edit's combination (its type and the attributes it names, `Edit.combo`) is held out of training
when the sum of their indices is a multiple of 5; `split="heldout"` draws only those, `"train"` never does.
"""

from __future__ import annotations

import dataclasses
import operator
import re

import numpy as np

from mgjax.data.moving_shapes import (COLORS, DIRECTION_WORDS, SHAPES, SIZE_WORDS, MovingShapes, ShapeObject,
                                      _shape_mask, object_centers, object_radius)

EDIT_TYPES = ("add", "remove", "replace", "color", "background", "style")  # the paper's six
SEGMENT = "segment"  # stage II: generative instruction-guided segmentation
TASKS = ("t2v",) + EDIT_TYPES + (SEGMENT,)  # task-embedding ids; text-to-video samples are task 0
STYLES = ("negative", "outline")
BACKDROPS = ("plain", "noisy", "striped", "checkered")
TARGET_BACKDROPS = ("plain", "striped", "checkered")  # a noisy target would be a random field, not an edit
MARK_COLORS = {"white": (255, 255, 255), "black": (0, 0, 0), "orange": (255, 140, 0)}
SPLITS = ("train", "heldout")
HELDOUT_MODULUS = 5
PATTERN_PERIOD = 0.25  # stripes and checks: one dark + light pair per quarter of the short side

INSTRUCTIONS = {
    "add": ("add a {new}", "put a {new} in the scene", "insert a {new}", "place a {new} in the video"),
    "remove": ("remove {old}", "delete {old}", "take out {old}", "erase {old}"),
    "replace": ("turn {old} into a {shape2}", "replace {old} with a {color} {shape2}", "make {old} a {shape2}",
                "change {old} into a {shape2}"),
    "color": ("make {old} {color2}", "change the colour of {old} to {color2}", "paint {old} {color2}",
              "recolour {old} {color2}"),
    "background": ("change the background to {kind}", "make the background {kind}",
                   "put the shapes on a {kind} background", "replace the background with a {kind} one"),
    "negative": ("invert the colours", "make it look like a photo negative", "turn the video into a negative",
                 "invert the video"),
    "outline": ("draw the shapes as outlines", "make it an outline drawing", "show only the outlines of the shapes",
                "turn the shapes into outlines"),
    "fill": ("fill in the outlined shapes", "fill the outlines with colour", "make the outlined shapes solid"),
    "segment": ("mark {old} in {mark}", "highlight {old} in {mark}", "segment {old} in {mark}",
                "colour {old} {mark} to mark it"),
}


@dataclasses.dataclass(frozen=True)
class Backdrop:
    kind: str  # BACKDROPS
    level: float  # grey level of the plain backdrop, or of the dark half of a pattern / the noise's mean
    contrast: float  # light minus dark half of a pattern (unused by plain and noisy)
    tint: tuple[float, float, float]  # per-channel offset, low saturation
    noise_seed: int


@dataclasses.dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...]
    starts: tuple[tuple[float, float], ...]  # first-frame centres as frame fractions (Moving Shapes' convention)
    backdrop: Backdrop
    style: str = "plain"  # "plain", or one of STYLES
    marks: tuple[str | None, ...] = ()  # per object: a MARK_COLORS name it is filled with, or None


@dataclasses.dataclass(frozen=True)
class Edit:
    """A before/after pair and its instruction; `index` is the edited object's position in the scene that has it."""

    type: str  # EDIT_TYPES or SEGMENT
    source: Scene
    target: Scene
    instruction: str
    combo: tuple[int, ...]  # what makes the edit held out
    detail: dict  # the attributes named: e.g. {"color": "red", "shape": "circle", "color2": "blue"}


def is_heldout(combo: tuple[int, ...]) -> bool:
    return sum(combo) % HELDOUT_MODULUS == 0


def render_scene(scene: Scene, num_frames: int, height: int, width: int) -> np.ndarray:
    """uint8 (t h w 3)."""
    video = np.repeat(render_backdrop(scene.backdrop, height, width)[None], num_frames, axis=0)
    marks = scene.marks or (None,) * len(scene.objects)
    for obj, mask, mark in zip(scene.objects, object_masks(scene, num_frames, height, width), marks):
        color = MARK_COLORS[mark] if mark else COLORS[obj.color]
        if scene.style == "outline":
            mask = mask & ~_erode(mask, outline_width(obj, height, width))
        video[mask] = color
    if scene.style == "negative":
        video = 255 - video
    return video


def object_masks(scene: Scene, num_frames: int, height: int, width: int) -> list[np.ndarray]:
    """Per object, bool (t h w): the pixels its filled shape covers in each frame."""
    if not scene.objects:
        return []
    rows = np.arange(height)[None, :, None] + 0.5
    cols = np.arange(width)[None, None, :] + 0.5
    spec = _PathSpec(scene.objects, scene.starts)
    out = []
    for obj, centers in zip(scene.objects, object_centers(spec, num_frames, height, width)):
        d_row, d_col = rows - centers[:, 0, None, None], cols - centers[:, 1, None, None]
        out.append(_shape_mask(obj.shape, d_row, d_col, object_radius(obj.size, height, width)))
    return out


def outline_width(obj: ShapeObject, height: int, width: int) -> int:
    return max(1, round(object_radius(obj.size, height, width) / 3))


def render_backdrop(b: Backdrop, height: int, width: int) -> np.ndarray:
    """uint8 (h w 3): canonical patterns (vertical stripes; checks), so only level, contrast and tint vary."""
    rows, cols = np.ogrid[:height, :width]
    period = pattern_period(height, width)
    if b.kind == "plain":
        grey = np.full((height, width), b.level)
    elif b.kind == "noisy":
        grey = b.level + np.random.default_rng(b.noise_seed).normal(0, 18, size=(height, width))
    else:
        light = (cols * 2 // period) % 2 if b.kind == "striped" else (rows * 2 // period + cols * 2 // period) % 2
        grey = np.broadcast_to(np.where(light == 1, b.level + b.contrast, b.level), (height, width))
    return np.clip(grey[..., None] + np.array(b.tint), 0, 255).astype(np.uint8)


def pattern_period(height: int, width: int) -> int:
    return max(2, round(min(height, width) * PATTERN_PERIOD))


def edit_region(edit: Edit, num_frames: int, height: int, width: int) -> np.ndarray:
    """bool (t h w): where the instruction allows the target to differ from the source (the mask test's bound)."""
    src = object_masks(edit.source, num_frames, height, width)
    tgt = object_masks(edit.target, num_frames, height, width)
    everywhere = np.ones((num_frames, height, width), bool)
    if edit.type == "add":
        return tgt[edit.detail["index"]]
    if edit.type == "remove":
        return src[edit.detail["index"]]
    if edit.type in ("replace", "color", SEGMENT):
        i = edit.detail["index"]
        return src[i] | tgt[i]
    if edit.type == "background":
        return ~np.any(np.stack(src), axis=0) if src else everywhere
    if edit.detail["style"] == "negative":
        return everywhere
    return np.any(np.stack(src + tgt), axis=0)  # outline / fill: inside the objects


class ShapeEdits:
    """Random-access source of edits: `edit(i)` the pair's description, `[i]` the rendered {"source", "video"
    (the target), "caption" (the instruction), "task"}. `num_frames=1` gives image edits (still objects)."""

    def __init__(self, split: str = "train", *, num_frames: int = 4, height: int = 32, width: int = 32, seed: int = 0,
                 types: tuple[str, ...] = EDIT_TYPES, two_object_prob: float = 0.5, start_spread: float = 0.25,
                 length: int = 1_000_000):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        unknown = [t for t in types if t not in TASKS[1:]]
        if unknown or not types:
            raise ValueError(f"unknown edit types {unknown}; valid: {', '.join(TASKS[1:])}")
        self.split, self.num_frames, self.height, self.width = split, num_frames, height, width
        self.seed, self.types, self.length = seed, tuple(types), length
        # Scenes: Moving Shapes' training objects and paths (held-out edits are new edits, not new objects).
        self.scenes = MovingShapes("train", num_frames=num_frames, height=height, width=width, seed=seed,
                                   two_object_prob=two_object_prob, start_spread=start_spread)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        e = self.edit(index)
        n, h, w = self.num_frames, self.height, self.width
        return {"source": render_scene(e.source, n, h, w), "video": render_scene(e.target, n, h, w),
                "caption": e.instruction, "task": np.int32(TASKS.index(e.type))}

    def edit(self, index: int, edit_type: str | None = None) -> Edit:
        index = operator.index(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), index, 7])
        edit_type = edit_type or self.types[int(rng.integers(len(self.types)))]
        for attempt in range(1000):
            scene = self._scene(int(rng.integers(2**31)), rng)
            edit = make_edit(edit_type, scene, rng, self.height, self.width)
            if edit is not None and is_heldout(edit.combo) == (self.split == "heldout"):
                return edit
        raise RuntimeError(f"no {self.split} {edit_type} edit found")  # unreachable for the built-in vocabulary

    def _scene(self, scene_index: int, rng: np.random.Generator) -> Scene:
        spec = self.scenes.spec(scene_index % len(self.scenes))
        return Scene(spec.objects, spec.starts, random_backdrop(rng))


def random_backdrop(rng: np.random.Generator, kinds: tuple[str, ...] = BACKDROPS) -> Backdrop:
    kind = kinds[int(rng.integers(len(kinds)))]
    return Backdrop(kind, float(rng.uniform(30, 100)), float(rng.uniform(30, 60)),
                    tuple(float(x) for x in rng.uniform(-6, 6, 3)), int(rng.integers(2**31)))


def make_edit(edit_type: str, scene: Scene, rng: np.random.Generator, height: int, width: int) -> Edit | None:
    """One random edit of `edit_type` on `scene` (None when the scene cannot take it, e.g. a colour already used)."""
    t = TASKS.index(edit_type)
    objs = scene.objects
    i = int(rng.integers(len(objs)))
    obj = objs[i]
    old = f"the {obj.color} {obj.shape}"
    used = {o.color for o in objs}
    pick = lambda options: options[int(rng.integers(len(options)))]

    def phrase(key, **kw):
        return pick(INSTRUCTIONS[key]).format(**kw)

    c, s = list(COLORS).index(obj.color), SHAPES.index(obj.shape)
    if edit_type in ("add", "remove"):
        new = _describe(obj, rng)
        without = Scene(objs[:i] + objs[i + 1:], scene.starts[:i] + scene.starts[i + 1:], scene.backdrop)
        if edit_type == "add":
            return Edit("add", without, scene, phrase("add", new=new), (t, c, s), {"index": i, **_attrs(obj)})
        return Edit("remove", scene, without, phrase("remove", old=old), (t, c, s), {"index": i, **_attrs(obj)})
    if edit_type == "replace":
        shape2 = pick([x for x in SHAPES if x != obj.shape])
        target = _replace_object(scene, i, shape=shape2)
        return Edit("replace", scene, target, phrase("replace", old=old, shape2=shape2, color=obj.color),
                    (t, c, s, SHAPES.index(shape2)), {"index": i, **_attrs(obj), "shape2": shape2})
    if edit_type == "color":
        free = [x for x in COLORS if x not in used]
        color2 = pick(free)
        target = _replace_object(scene, i, color=color2)
        return Edit("color", scene, target, phrase("color", old=old, color2=color2),
                    (t, c, s, list(COLORS).index(color2)), {"index": i, **_attrs(obj), "color2": color2})
    if edit_type == "background":
        b = scene.backdrop
        kind2 = pick([k for k in TARGET_BACKDROPS if k != b.kind])
        target = dataclasses.replace(scene, backdrop=dataclasses.replace(b, kind=kind2))
        return Edit("background", scene, target, phrase("background", kind=kind2),
                    (t, BACKDROPS.index(b.kind), BACKDROPS.index(kind2)), {"kind": b.kind, "kind2": kind2})
    if edit_type == "style":
        style = pick(STYLES)
        target = dataclasses.replace(scene, style=style)
        combo = (t, STYLES.index(style), BACKDROPS.index(scene.backdrop.kind))
        return Edit("style", scene, target, phrase(style), combo, {"style": style})
    if edit_type == SEGMENT:
        mark = pick(tuple(MARK_COLORS))
        target = dataclasses.replace(scene, marks=tuple(mark if j == i else None for j in range(len(objs))))
        return Edit(SEGMENT, scene, target, phrase(SEGMENT, old=old, mark=mark), (t, c, list(MARK_COLORS).index(mark)),
                    {"index": i, **_attrs(obj), "mark": mark})
    raise ValueError(f"unknown edit type {edit_type!r}; valid: {', '.join(TASKS[1:])}")


def backward_edit(edit: Edit, rng: np.random.Generator) -> Edit:
    """The edit that undoes `edit` (stage III backtranslation): source and target swapped, the instruction's template
    inverted ("make the red square blue" -> "make the blue square red"). Segmentation has no backward edit."""
    d = edit.detail
    pick = lambda options: options[int(rng.integers(len(options)))]
    swap = dict(source=edit.target, target=edit.source)
    t = TASKS.index(edit.type)
    if edit.type in ("add", "remove", "replace", "color"):  # the edits that name an object
        c, s = list(COLORS).index(d["color"]), SHAPES.index(d["shape"])
    if edit.type == "add":
        words = pick(INSTRUCTIONS["remove"]).format(old=f"the {d['color']} {d['shape']}")
        return Edit("remove", **swap, instruction=words, combo=(TASKS.index("remove"), c, s), detail=d)
    if edit.type == "remove":
        words = pick(INSTRUCTIONS["add"]).format(new=_describe(edit.source.objects[d["index"]], rng))
        return Edit("add", **swap, instruction=words, combo=(TASKS.index("add"), c, s), detail=d)
    if edit.type == "replace":
        words = pick(INSTRUCTIONS["replace"]).format(old=f"the {d['color']} {d['shape2']}", shape2=d["shape"],
                                                     color=d["color"])
        s2 = SHAPES.index(d["shape2"])
        return Edit("replace", **swap, instruction=words, combo=(t, c, s2, s),
                    detail={**d, "shape": d["shape2"], "shape2": d["shape"]})
    if edit.type == "color":
        words = pick(INSTRUCTIONS["color"]).format(old=f"the {d['color2']} {d['shape']}", color2=d["color"])
        c2 = list(COLORS).index(d["color2"])
        return Edit("color", **swap, instruction=words, combo=(t, c2, s, c),
                    detail={**d, "color": d["color2"], "color2": d["color"]})
    if edit.type == "background":
        words = pick(INSTRUCTIONS["background"]).format(kind=d["kind"])
        return Edit("background", **swap, instruction=words,
                    combo=(t, BACKDROPS.index(d["kind2"]), BACKDROPS.index(d["kind"])),
                    detail={"kind": d["kind2"], "kind2": d["kind"]})
    if edit.type == "style":
        style = "negative" if d["style"] == "negative" else "fill"
        return Edit("style", **swap, instruction=pick(INSTRUCTIONS[style]),
                    combo=(t, (*STYLES, "fill").index(style), BACKDROPS.index(edit.source.backdrop.kind)),
                    detail={"style": style})
    raise ValueError(f"a {edit.type} edit has no backward edit")


_SHAPE, _COLOR = f"(?:{'|'.join(SHAPES)})", f"(?:{'|'.join(COLORS)})"
_FIELD_PATTERNS = {"new": rf"(?:[a-z]+ )?{_COLOR} {_SHAPE}(?: moving [a-z ]+)?", "old": rf"the {_COLOR} {_SHAPE}",
                   "shape2": _SHAPE, "color": _COLOR, "color2": _COLOR, "kind": f"(?:{'|'.join(BACKDROPS)})",
                   "mark": f"(?:{'|'.join(MARK_COLORS)})"}


def task_of(instruction: str) -> str | None:
    """The edit task an instruction in this vocabulary's phrasings asks for (None when no phrasing matches)."""
    text = " ".join(instruction.lower().split())
    for key, templates in INSTRUCTIONS.items():
        for template in templates:
            pattern = re.escape(template)
            for field, words in _FIELD_PATTERNS.items():
                pattern = pattern.replace(re.escape("{" + field + "}"), words)
            if re.fullmatch(pattern, text):
                return "style" if key in STYLES + ("fill",) else key
    return None


def affine_sequence(rng: np.random.Generator, num_frames: int, max_shift: float = 0.15,
                    max_zoom: float = 0.15, max_angle: float = 10.0) -> list[np.ndarray]:
    """Stage II's animated frame editing: one random camera path (shift, zoom, rotation interpolated from the
    identity at frame 0 to a random end pose), as (2, 3) matrices mapping output pixel (row, col) to input pixel."""
    end_shift = rng.uniform(-max_shift, max_shift, 2)
    end_zoom = np.exp(rng.uniform(-max_zoom, max_zoom))
    end_angle = np.deg2rad(rng.uniform(-max_angle, max_angle))
    out = []
    for p in np.linspace(0.0, 1.0, num_frames):
        zoom, angle = end_zoom ** p, end_angle * p
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / zoom
        out.append(np.concatenate([rot, (end_shift * p)[:, None]], axis=1))
    return out


def animate(image: np.ndarray, matrices: list[np.ndarray]) -> np.ndarray:
    """uint8 (1 h w 3) still -> (t h w 3): frame k samples the still at matrices[k] (about the centre; shifts in
    fractions of the frame), nearest neighbour with edge extension so an edit pair stays exactly aligned."""
    _, height, width, _ = image.shape
    rows, cols = np.mgrid[:height, :width].astype(np.float64)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    frames = []
    for m in matrices:
        offset = np.stack([rows - centre[0], cols - centre[1]])
        src = np.einsum("ij,jhw->ihw", m[:, :2], offset) + centre[:, None, None]
        src += (m[:, 2] * np.array([height, width]))[:, None, None]
        r = np.clip(np.rint(src[0]), 0, height - 1).astype(int)
        c = np.clip(np.rint(src[1]), 0, width - 1).astype(int)
        frames.append(image[0][r, c])
    return np.stack(frames)


class AnimatedEdits:
    """Stage II pseudo-videos: an image edit pair with one random affine sequence applied to both images; with
    probability `still_prob` the camera stays still (the pair's image repeated)."""

    def __init__(self, images: ShapeEdits, num_frames: int, still_prob: float = 0.0):
        if images.num_frames != 1:
            raise ValueError("AnimatedEdits animates image edits (num_frames=1)")
        self.images, self.num_frames, self.still_prob = images, num_frames, still_prob

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        item = self.images[index]
        rng = np.random.default_rng([self.images.seed, index, 11])
        matrices = affine_sequence(rng, self.num_frames)
        if rng.random() < self.still_prob:
            matrices = [np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])] * self.num_frames
        return dict(item, source=animate(item["source"], matrices), video=animate(item["video"], matrices))


@dataclasses.dataclass(frozen=True)
class _PathSpec:  # what object_centers reads of a Moving Shapes spec
    objects: tuple[ShapeObject, ...]
    starts: tuple[tuple[float, float], ...]


def _attrs(obj: ShapeObject) -> dict:
    return {"color": obj.color, "shape": obj.shape, "direction": obj.direction}


def _describe(obj: ShapeObject, rng: np.random.Generator) -> str:
    """An added object's words: size, colour, shape and (in a video) its motion, all of which fix its target."""
    size = SIZE_WORDS[obj.size][int(rng.integers(len(SIZE_WORDS[obj.size])))]
    words = f"{size} {obj.color} {obj.shape}"
    if obj.direction is not None:
        motion = DIRECTION_WORDS[obj.direction][int(rng.integers(len(DIRECTION_WORDS[obj.direction])))]
        speed = "slowly" if obj.speed == "slowly" else "quickly"
        words += f" moving {motion} {speed}"
    return words


def _replace_object(scene: Scene, i: int, **changes) -> Scene:
    objects = tuple(dataclasses.replace(o, **changes) if j == i else o for j, o in enumerate(scene.objects))
    return dataclasses.replace(scene, objects=objects)


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion of (t h w) by a 3x3 square, `steps` times (outside the frame counts as inside)."""
    for _ in range(steps):
        padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)), mode="edge")
        h, w = mask.shape[1:]
        mask = np.all([padded[:, r:r + h, c:c + w] for r in range(3) for c in range(3)], axis=0)
    return mask
