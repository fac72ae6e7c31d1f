"""Writing sampled videos: mp4 (H.264 through PyAV) and animated GIF (Pillow). Files appear atomically."""

from __future__ import annotations

import hashlib
import pathlib
import re

import av
import numpy as np
from PIL import Image

from mgjax.data.degradations import RESAMPLE
from mgjax.errors import UserError


def slug(text: str, limit: int = 60) -> str:
    """A file-name stem for a prompt."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit] or "video"


def sample_stems(prompts: list[str], out: str | None, default_dir: str | pathlib.Path, identity: list[str]) -> list[
        pathlib.Path]:
    """Where each prompt's video goes (a stem: FILE.mp4 and FILE.gif are written beside each other).

    Without `out`: `default_dir/<prompt slug>-<hash>`, the hash over what made the video (`identity`: the text given
    to the model, seed, steps, guidance, index), so two prompts that share a beginning never collide and a repeated
    command names the same file. `out` ending in `/` or naming a directory: the same names inside it. Otherwise `out`
    is the file (its .mp4 or .gif suffix dropped, every other dot kept), numbered `_0, _1, ...` for several prompts."""
    folder = out is not None and (out.endswith(("/", "\\")) or pathlib.Path(out).is_dir())
    if out is None or folder:
        where = pathlib.Path(out if folder else default_dir)
        return [where / f"{slug(p, 48)}-{hashlib.sha1(key.encode()).hexdigest()[:8]}" for p, key in zip(prompts,
                                                                                                      identity)]
    path = pathlib.Path(out)
    stem = path.with_name(path.name[: -len(path.suffix)]) if path.suffix.lower() in (".mp4", ".gif") else path
    if len(prompts) == 1:
        return [stem]
    return [stem.with_name(f"{stem.name}_{i}") for i in range(len(prompts))]


def video_files(stem: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """The two files `write_video` makes for `stem` (a suffix is appended, never replaced: run.v2 -> run.v2.mp4)."""
    return stem.with_name(stem.name + ".mp4"), stem.with_name(stem.name + ".gif")


def check_free(stems: list[pathlib.Path]) -> None:
    """Refuse (one line) to replace existing files or to write one file twice."""
    files = [f for s in stems for f in video_files(s)]
    taken = [f for f in files if f.exists()]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise UserError(f"{str(taken[0])!r}{more} already exists; pass --overwrite to replace it, or choose another "
                        f"--out")
    if len(set(files)) < len(files):
        raise UserError("two prompts would write the same file; give each its own --out")


def viewing_scale(height: int, width: int, min_side: int = 128) -> int:
    """Integer nearest-neighbour upscale so tiny demo videos are visible (32 px -> 128 px)."""
    return max(1, min_side // min(height, width))


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    return frames.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else frames


def resize_video(videos: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    """uint8 (..., h, w, 3) -> each frame resized by PIL (`bicubic`, `bilinear`, `nearest`)."""
    kind = Image.Resampling.NEAREST if mode == "nearest" else RESAMPLE[mode]
    flat = videos.reshape(-1, *videos.shape[-3:])
    out = np.stack([np.asarray(Image.fromarray(f).resize((width, height), kind)) for f in flat])
    return out.reshape(videos.shape[:-3] + out.shape[-3:])


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
    mp4, gif = video_files(stem)
    return [write_mp4(mp4, frames, fps, scale), write_gif(gif, frames, fps, scale)]
