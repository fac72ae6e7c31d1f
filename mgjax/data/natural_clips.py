"""Natural-content clips for the tiny TAEs: real photos and 1/f textures under a moving camera, and Moving Shapes.

A TAE trained on Moving Shapes alone learns flat colours and hard edges and fails on real footage. This source mixes,
by weight (`NaturalClipsConfig`):

- **Moving Shapes** (mgjax/data/moving_shapes.py, its "train" split);
- **procedural textures with natural statistics**: a 1/f ("pink") noise colour field with, often, an oriented
  grating, Voronoi cells, soft-edged regions or a gradient blended in through a blob or half-plane mask;
- **real photos** shipped inside the scikit-image wheel (read from its data directory; nothing is downloaded), cropped
  at random scales (from 1 to ~15 photo pixels per output pixel, antialiased before sampling).

Both kinds of canvas are filmed by the same camera: a pan at 0-`max_speed` output pixels per frame, a zoom, a small
rotation and, sometimes, a smooth warp drifting over the clip, sampled with cubic splines (sub-pixel), and sometimes a
brightness fade; `static_prob` of the clips hold still. In "train" the photos are flipped and colour-jittered.

Split: the photos in HELDOUT_PHOTOS (three colour photos of different content: a cat's fur, a still life in saturated
colours, sky and a structure) never appear in "train"; the "heldout" split shows only them, without augmentation.
Every clip is a pure function of (seed, split, index).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os

import numpy as np
import skimage.data
from PIL import Image
from scipy import ndimage, spatial

from mgjax.config.data import NaturalClipsConfig
from mgjax.config.validate import validate_natural_clips
from mgjax.data.moving_shapes import MovingShapes

HELDOUT_PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg")
TRAIN_PHOTOS = ("astronaut.png", "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg", "ihc.png",
                "retina.jpg", "camera.png", "grass.png", "gravel.png", "brick.png", "moon.png", "coins.png",
                "page.png", "text.png", "cell.png", "horse.png", "clock_motion.png", "color.png")
SPLITS = ("train", "heldout")
KINDS = ("shapes", "procedural", "photo")
_MARGIN = 3  # canvas pixels kept around the sampled area (the cubic spline's support)


def photo_dir() -> str:
    return os.path.dirname(skimage.data.__file__)


@functools.cache
def load_photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 (h w 3); grey photos are grey RGB, transparency is dropped."""
    with Image.open(os.path.join(photo_dir(), name)) as image:
        return np.asarray(image.convert("RGB"))


@dataclasses.dataclass(frozen=True)
class Camera:
    """How a clip films its canvas. Frame k of t is at p = k / (t - 1): the output pixel offset u from the frame's
    centre (row, col) is warped, rotated by `angle + turn p`, scaled by `scale zoom^p` canvas pixels per output pixel,
    and placed around a centre that moves by `shift` output pixels over the clip."""

    scale: float
    zoom: float = 1.0
    angle: float = 0.0  # radians
    turn: float = 0.0  # radians over the clip
    shift: tuple[float, float] = (0.0, 0.0)  # (row, col), output pixels over the clip
    flip: bool = False  # mirror left-right
    warp: tuple = ()  # (amplitude, (wave row, wave col), phase, drift) per (axis, component): a smooth deformation
    fade: float = 0.0  # brightness gain change over the clip

    def coords(self, num_frames: int, height: int, width: int) -> np.ndarray:
        """Canvas positions relative to the first frame's centre, in canvas pixels: float (t h w 2)."""
        p = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
        rows, cols = np.meshgrid(np.arange(height) - (height - 1) / 2, np.arange(width) - (width - 1) / 2,
                                 indexing="ij")
        u = np.broadcast_to(np.stack([rows, -cols if self.flip else cols], -1), (num_frames, height, width, 2)).copy()
        offset = u.copy()
        for axis, amplitude, wave, phase, drift in self.warp:
            offset[..., axis] += amplitude * np.sin(u[..., 0] * wave[0] + u[..., 1] * wave[1] + phase
                                                    + drift * p[:, None, None])
        theta = (self.angle + self.turn * p)[:, None, None]
        cos, sin = np.cos(theta), np.sin(theta)
        rotated = np.stack([cos * offset[..., 0] - sin * offset[..., 1], sin * offset[..., 0] + cos * offset[..., 1]],
                           -1)
        scale = (self.scale * self.zoom ** p)[:, None, None, None]
        centre = self.scale * np.asarray(self.shift) * p[:, None, None, None]
        return centre + scale * rotated

    def gains(self, num_frames: int) -> np.ndarray:
        return 1.0 + self.fade * (np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1))


def film(canvas: np.ndarray, coords: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Sample a float (H W 3) canvas at (t h w 2) positions with cubic splines, times a per-frame gain: uint8
    (t h w 3)."""
    frames = np.empty((*coords.shape[:-1], 3), np.float32)
    points = np.moveaxis(coords, -1, 0)
    for c in range(3):
        spline = ndimage.spline_filter(canvas[..., c].astype(np.float64), order=3, mode="mirror")
        frames[..., c] = ndimage.map_coordinates(spline, points, order=3, mode="mirror", prefilter=False)
    frames *= gains[:, None, None, None]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def pink_noise(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """A field whose amplitude spectrum falls as 1/f^beta (natural images: beta ~1), zero mean and unit std."""
    f = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None])
    f[0, 0] = np.inf
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** beta
    field = np.fft.irfft2(spectrum, s=(height, width))
    return (field - field.mean()) / max(field.std(), 1e-8)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random colour, saturated or muted: float (3,)."""
    grey = rng.uniform(30, 225)
    return np.clip(grey + rng.normal(0, rng.uniform(5, 60), 3), 0, 255)


def colour_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A mean colour plus 1/f noise along a luminance-like and two weaker chroma directions: float (h w 3)."""
    basis = np.linalg.qr(np.eye(3) + rng.normal(0, 0.3, (3, 3)) + np.sqrt(3) * np.outer(np.ones(3), [1, 0, 0]))[0]
    sigma = rng.uniform(12, 55) * np.array([1.0, rng.uniform(0.1, 0.5), rng.uniform(0.05, 0.3)])
    beta = rng.uniform(0.8, 1.6)
    noise = np.stack([pink_noise(rng, height, width, beta + rng.uniform(0, 0.4) * (i > 0)) for i in range(3)], -1)
    return _colour(rng) + (noise * sigma) @ basis.T


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An oriented grating, Voronoi cells, soft-edged regions or a gradient, in random colours: float (h w 3)."""
    rows, cols = np.mgrid[:height, :width].astype(np.float64)
    kind = int(rng.integers(4))
    a, b = _colour(rng), _colour(rng)
    if kind == 0:  # grating: sine to near-square profile, 3-16 px period
        theta, period = rng.uniform(0, np.pi), rng.uniform(3, 16)
        wave = np.sin(2 * np.pi * (rows * np.cos(theta) + cols * np.sin(theta)) / period + rng.uniform(0, 2 * np.pi))
        mix = 0.5 + 0.5 * np.tanh(rng.uniform(0.5, 6) * wave) / np.tanh(rng.uniform(0.5, 6))
    elif kind == 1:  # cells: each its own colour around a base, dark borders
        count = max(2, int(height * width / rng.uniform(40, 400)))
        seeds = rng.uniform(0, 1, (count, 2)) * (height, width)
        dist, nearest = spatial.cKDTree(seeds).query(np.stack([rows, cols], -1), k=2)
        cell_colours = np.clip(a + rng.normal(0, rng.uniform(10, 50), (count, 3)), 0, 255)
        border = np.clip((dist[..., 1] - dist[..., 0]) / rng.uniform(0.5, 2.0), 0, 1)[..., None]
        return cell_colours[nearest[..., 0]] * (0.4 + 0.6 * border)
    elif kind == 2:  # regions cut by 1-4 lines with edges from sharp to soft
        mix = np.zeros((height, width))
        for _ in range(int(rng.integers(1, 5))):
            theta, at = rng.uniform(0, 2 * np.pi), rng.uniform(0, 1, 2) * (height, width)
            side = (rows - at[0]) * np.cos(theta) + (cols - at[1]) * np.sin(theta)
            mix += rng.uniform(-1, 1) * np.clip(side / rng.uniform(0.3, 3.0) + 0.5, 0, 1)
        mix = (mix - mix.min()) / max(np.ptp(mix), 1e-8)
    else:  # linear or radial gradient
        theta = rng.uniform(0, 2 * np.pi)
        if rng.random() < 0.5:
            mix = rows * np.cos(theta) + cols * np.sin(theta)
        else:
            mix = np.hypot(rows - rng.uniform(0, height), cols - rng.uniform(0, width))
        mix = (mix - mix.min()) / max(np.ptp(mix), 1e-8)
    return a + mix[..., None] * (b - a)


def procedural_canvas(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colour field, with 0-2 textures blended in over all of it, a blob mask or a half-plane: float (h w 3)."""
    canvas = colour_field(rng, height, width)
    for _ in range(int(rng.choice(3, p=(0.3, 0.45, 0.25)))):
        layer = texture(rng, height, width) * (1 + 0.15 * pink_noise(rng, height, width, 1.2))[..., None]
        shape = int(rng.integers(3))
        if shape == 0:
            mask = np.ones((height, width))
        elif shape == 1:
            blobs = pink_noise(rng, height, width, rng.uniform(1.5, 2.5))
            mask = 1 / (1 + np.exp(-(blobs - rng.uniform(-0.5, 0.5)) * rng.uniform(2, 12)))
        else:
            rows, cols = np.mgrid[:height, :width]
            theta, at = rng.uniform(0, 2 * np.pi), rng.uniform(0, 1, 2) * (height, width)
            mask = np.clip(((rows - at[0]) * np.cos(theta) + (cols - at[1]) * np.sin(theta)) / rng.uniform(0.3, 3)
                           + 0.5, 0, 1)
        canvas = canvas + rng.uniform(0.5, 1.0) * mask[..., None] * (layer - canvas)
    return canvas


class NaturalClips:
    """Random-access, picklable source of {"video": uint8 (t h w 3), "caption"} samples (only Moving Shapes clips
    have captions)."""

    def __init__(self, split: str = "train", *, num_frames: int = 8, height: int = 32, width: int = 32, seed: int = 0,
                 length: int = 1_000_000, mix: NaturalClipsConfig = NaturalClipsConfig(),
                 shapes: MovingShapes | None = None):
        """`shapes`: the Moving Shapes source for that part of the mix (default: its "train" split at this size)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        validate_natural_clips(mix, "mix")
        self.split, self.num_frames, self.height, self.width = split, num_frames, height, width
        self.seed, self.length, self.static_prob, self.max_speed = seed, length, mix.static_prob, mix.max_speed
        weights = np.array([mix.shapes_weight, mix.procedural_weight, mix.photo_weight])
        # The held-out split shows held-out photos only.
        self.weights = (0.0, 0.0, 1.0) if split == "heldout" else tuple(weights / weights.sum())
        self.photos = HELDOUT_PHOTOS if split == "heldout" else TRAIN_PHOTOS
        self.shapes = shapes or MovingShapes("train", num_frames=num_frames, height=height, width=width, seed=seed)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"NaturalClips(split={self.split!r}, num_frames={self.num_frames}, height={self.height}, "
                f"width={self.width}, seed={self.seed}, length={self.length}, weights={self.weights}, "
                f"static_prob={self.static_prob}, max_speed={self.max_speed})")

    def kind(self, index: int) -> str:
        return self._content(index)[1]

    def photo(self, index: int) -> str | None:
        """The photo clip `index` films, or None for other content."""
        return self._content(index)[2]

    def __getitem__(self, index: int) -> dict:
        """{"video", "caption"}: Moving Shapes clips keep their captions, the rest have the empty one."""
        rng, kind, photo = self._content(index)
        if kind == "shapes":
            item = self.shapes[index]
            return {"video": item["video"], "caption": item["caption"]}
        return {"video": self._photo_clip(photo, rng) if photo else self._procedural_clip(rng), "caption": ""}

    def _content(self, index: int) -> tuple[np.random.Generator, str, str | None]:
        """(the clip's rng, its kind, its photo or None)."""
        rng = self._rng(index)
        kind = KINDS[int(rng.choice(3, p=self.weights))]
        return rng, kind, self.photos[int(rng.integers(len(self.photos)))] if kind == "photo" else None

    def _rng(self, index) -> np.random.Generator:
        index = operator.index(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for length {self.length}")
        return np.random.default_rng([self.seed, SPLITS.index(self.split), index, 1])

    def _camera(self, rng: np.random.Generator, scale: float, photo: bool) -> Camera:
        """A random camera: static with `static_prob`, else a pan with sometimes a zoom, a turn and a warp."""
        augment = self.split == "train"
        angle = rng.uniform(-np.pi, np.pi) if not photo else (rng.uniform(-0.1, 0.1) if rng.random() < 0.3 else 0.0)
        flip = augment and rng.random() < 0.5
        fade = rng.uniform(-0.3, 0.3) if rng.random() < 0.2 else 0.0
        if self.num_frames == 1 or rng.random() < self.static_prob:
            return Camera(scale, angle=angle, flip=flip, fade=fade if self.num_frames > 1 else 0.0)
        speed = self.max_speed * rng.random() ** 2 * (self.num_frames - 1)  # output px over the clip; slow is common
        heading = rng.uniform(0, 2 * np.pi)
        zoom = float(np.exp(rng.uniform(-0.3, 0.3))) if rng.random() < 0.4 else 1.0
        turn = rng.uniform(-0.25, 0.25) if rng.random() < 0.25 else 0.0
        warp = ()
        if rng.random() < (0.5 if not photo else 0.15):
            amplitude = rng.uniform(0.3, 2.5)
            warp = tuple((axis, amplitude * rng.uniform(0.3, 1.0), tuple(rng.normal(0, 1, 2) * 2 * np.pi
                                                                         / rng.uniform(12, 40)),
                          rng.uniform(0, 2 * np.pi), rng.uniform(-np.pi, np.pi)) for axis in (0, 1) for _ in range(2))
        return Camera(scale, zoom, angle, turn, (speed * np.cos(heading), speed * np.sin(heading)), flip, warp, fade)

    def _coords(self, camera: Camera) -> np.ndarray:
        return camera.coords(self.num_frames, self.height, self.width)

    def _procedural_clip(self, rng: np.random.Generator) -> np.ndarray:
        camera = self._camera(rng, float(np.exp(rng.uniform(np.log(0.7), np.log(1.5)))), photo=False)
        coords = self._coords(camera)
        low, high = coords.min(axis=(0, 1, 2)), coords.max(axis=(0, 1, 2))
        size = np.ceil(high - low).astype(int) + 2 * _MARGIN + 1
        canvas = procedural_canvas(rng, int(size[0]), int(size[1]))
        return film(canvas, coords - low + _MARGIN, camera.gains(self.num_frames))

    def _photo_clip(self, name: str, rng: np.random.Generator) -> np.ndarray:
        photo = load_photo(name)
        if self.split == "train":  # colour jitter: per-channel gains, sometimes the channels permuted
            photo = photo * np.exp(rng.normal(0, 0.1, 3))
            if rng.random() < 0.2:
                photo = photo[..., rng.permutation(3)]
        size = np.array(photo.shape[:2])
        top = min(16.0, size.min() / (1.15 * max(self.height, self.width)))
        scale = float(np.exp(rng.uniform(0.0, np.log(max(top, 1.0)))))
        camera = self._camera(rng, scale, photo=True)
        for _ in range(20):  # shrink the view until its whole path lies inside the photo
            coords = self._coords(camera)
            low, high = coords.min(axis=(0, 1, 2)), coords.max(axis=(0, 1, 2))
            if (high - low + 2 * _MARGIN < size - 1).all():
                break
            camera = dataclasses.replace(camera, scale=camera.scale * 0.8)
        start = low - _MARGIN - rng.uniform(0, 1, 2) * (size - 1 - 2 * _MARGIN - (high - low))
        return self._film_photo(photo, coords - start, camera)

    def _film_photo(self, photo: np.ndarray, coords: np.ndarray, camera: Camera) -> np.ndarray:
        """Crop the photo to the filmed area, shrink it (antialiased) to the finest scale the clip samples it at, and
        film that."""
        low = np.maximum(np.floor(coords.min(axis=(0, 1, 2))).astype(int) - _MARGIN, 0)
        high = np.minimum(np.ceil(coords.max(axis=(0, 1, 2))).astype(int) + _MARGIN + 1, photo.shape[:2])
        crop = np.asarray(photo[low[0]:high[0], low[1]:high[1]], np.float32)
        coords = coords - low
        finest = camera.scale * min(1.0, camera.zoom)
        if finest > 1.0:
            shape = np.maximum(np.rint(np.array(crop.shape[:2]) / finest).astype(int), 2 * _MARGIN + 2)
            image = Image.fromarray(np.clip(np.rint(crop), 0, 255).astype(np.uint8))
            crop = np.asarray(image.resize((int(shape[1]), int(shape[0])), Image.Resampling.LANCZOS), np.float32)
            factor = shape / (high - low)
            coords = (coords + 0.5) * factor - 0.5
        return film(crop, coords, camera.gains(self.num_frames))
