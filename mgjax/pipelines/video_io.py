"""Writing sampled videos: mp4 (H.264 through PyAV) and animated GIF (Pillow). Files appear atomically."""

from __future__ import annotations

import pathlib
import re

import av
import numpy as np
from PIL import Image


def slug(text: str, limit: int = 60) -> str:
    """A file-name stem for a prompt."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "video"


def viewing_scale(height: int, width: int, min_side: int = 128) -> int:
    """Integer nearest-neighbour upscale so tiny demo videos are visible (32 px -> 128 px)."""
    return max(1, min_side // min(height, width))


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    return frames.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else frames


def write_mp4(path: str | pathlib.Path, frames: np.ndarray, fps: int, scale: int = 1) -> pathlib.Path:
    """frames: uint8 (t, h, w, 3). H.264 in yuv420p needs even sides; odd sides are padded by one pixel."""
    path = pathlib.Path(path)
    frames = _upscale(frames, scale)
    t, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)
    return path


def write_gif(path: str | pathlib.Path, frames: np.ndarray, fps: int, scale: int = 1) -> pathlib.Path:
    path = pathlib.Path(path)
    images = [Image.fromarray(f) for f in _upscale(frames, scale)]
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    tmp.replace(path)
    return path


def read_mp4(path: str | pathlib.Path) -> np.ndarray:
    """uint8 (t, h, w, 3); used by tests to check what was written."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def write_video(stem: str | pathlib.Path, frames: np.ndarray, fps: int) -> list[pathlib.Path]:
    """Write `stem`.mp4 and `stem`.gif at a viewing scale; returns both paths."""
    stem = pathlib.Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    scale = viewing_scale(frames.shape[1], frames.shape[2])
    return [write_mp4(stem.with_suffix(".mp4"), frames, fps, scale), write_gif(stem.with_suffix(".gif"), frames, fps, scale)]
