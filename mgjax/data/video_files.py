"""Video and image files with captions: finding them, probing them, and decoding clips at a target FPS.

A data root holds videos (mp4, webm, mov, mkv) and images (png, jpg, jpeg, webp; one-frame videos). Captions come from
a JSONL manifest (`{"path": "clips/a.mp4", "caption": "...", "camera_motion": "pan left"}` per line, paths relative
to the root) or, without one, from a sidecar text file beside each media file (`a.mp4` + `a.txt`). A manifest path that
leaves the root (`../x`, an absolute path elsewhere, a symlink out) is rejected.

Every failure to read a sample raises `BadSample` with a short reason; the pipeline counts, names and skips them.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib

import av
import numpy as np
from PIL import Image

from mgjax.errors import UserError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class BadSample(Exception):
    """A sample that cannot be used (corrupt, truncated, empty, too short, bad caption); the message says why."""


@dataclasses.dataclass(frozen=True)
class MediaItem:
    path: str  # relative to the data root
    caption: str
    camera_motion: str = ""


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    fps: float  # 0 for images
    duration: float  # seconds; 0 for images

    @property
    def is_image(self) -> bool:
        return self.duration == 0


def inside_root(root: pathlib.Path, relative: str) -> pathlib.Path:
    """root / relative, refusing anything that resolves outside the root (.., absolute paths, symlinks)."""
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise UserError(f"manifest path {relative!r} leaves the data root {str(root)!r}")
    return path


def read_caption(path: pathlib.Path) -> str:
    try:
        return path.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise BadSample(f"caption is not UTF-8 ({e.reason} at byte {e.start})") from None


def scan(root: str | pathlib.Path,
         manifest: str | pathlib.Path | None = None) -> tuple[list[MediaItem], list[tuple[str, str]]]:
    """-> (items, bad) where bad lists (path, reason) for entries whose caption could not be read."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise UserError(f"data root {str(root)!r} is not a directory")
    items, bad = [], []
    if manifest:
        mpath = pathlib.Path(manifest)
        mpath = mpath if mpath.is_absolute() else root / mpath
        for n, line in enumerate(mpath.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode("utf-8"))
                rel, caption = entry["path"], entry["caption"]
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
                bad.append((f"{mpath.name}:{n}", f"unreadable manifest line ({type(e).__name__})"))
                continue
            inside_root(root, rel)  # a path escaping the root is a configuration error, not bad data
            items.append(MediaItem(rel, str(caption), str(entry.get("camera_motion", ""))))
        return items, bad
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES or not path.is_file():
            continue
        rel = str(path.relative_to(root))
        sidecar = path.with_suffix(".txt")
        if not sidecar.is_file():
            bad.append((rel, "no caption file"))
            continue
        try:
            items.append(MediaItem(rel, read_caption(sidecar)))
        except BadSample as e:
            bad.append((rel, str(e)))
    return items, bad


def _source(path: pathlib.Path, data: bytes | None):
    """What PyAV and Pillow open: the file, or its bytes (a file packed in a TFDS record)."""
    return str(path) if data is None else io.BytesIO(data)


def probe(path: pathlib.Path, data: bytes | None = None) -> MediaInfo:
    """Size, FPS and duration from the container header (videos) or the image header. `data`: the file's bytes,
    when it lives in a record rather than on disk (`path` then only names it)."""
    if data is None and not path.is_file():
        raise BadSample("file not found")
    if (len(data) if data is not None else path.stat().st_size) == 0:
        raise BadSample("zero-length file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            with Image.open(path if data is None else io.BytesIO(data)) as im:
                return MediaInfo(im.width, im.height, 0.0, 0.0)
        except Exception as e:  # Pillow raises many types for broken files
            raise BadSample(f"undecodable image ({type(e).__name__})") from None
    try:
        with av.open(_source(path, data)) as container:
            if not container.streams.video:
                raise BadSample("no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            elif stream.frames and fps:
                duration = stream.frames / fps
            else:
                duration = 0.0
            width, height = stream.codec_context.width, stream.codec_context.height
    except BadSample:
        raise
    except Exception as e:  # av.error.* for corrupt containers
        raise BadSample(f"undecodable video ({type(e).__name__})") from None
    if fps <= 0 or duration <= 0 or width <= 0 or height <= 0:
        raise BadSample(f"unusable stream (fps={fps:g}, duration={duration:g}s, {width}x{height})")
    return MediaInfo(width, height, fps, duration)


def resize_crop(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (t, h0, w0, 3) -> (t, height, width, 3): scale to cover the target, then centre-crop (bicubic)."""
    t, h0, w0, _ = frames.shape
    scale = max(height / h0, width / w0)
    rh, rw = max(height, round(h0 * scale)), max(width, round(w0 * scale))
    top, left = (rh - height) // 2, (rw - width) // 2
    out = np.empty((t, height, width, 3), np.uint8)
    for i, f in enumerate(frames):
        im = Image.fromarray(f).resize((rw, rh), Image.BICUBIC) if (rh, rw) != (h0, w0) else Image.fromarray(f)
        out[i] = np.asarray(im)[top:top + height, left:left + width]
    return out


def decode_image(path: pathlib.Path, height: int, width: int, data: bytes | None = None) -> np.ndarray:
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as im:
            frame = np.asarray(im.convert("RGB"))
    except Exception as e:
        raise BadSample(f"undecodable image ({type(e).__name__})") from None
    return resize_crop(frame[None], height, width)


def frame_times(start: float, num_frames: int, fps: float) -> np.ndarray:
    return start + np.arange(num_frames) / fps


def decode_clip(path: pathlib.Path, start: float, num_frames: int, fps: float, height: int, width: int,
                data: bytes | None = None) -> np.ndarray:
    """num_frames frames sampled at `fps` from `start` seconds (each the last decoded frame at or before its time),
    resized and centre-cropped: uint8 (num_frames, height, width, 3). Seeks to the keyframe before `start`."""
    times = frame_times(start, num_frames, fps)
    frames: list[np.ndarray] = []
    last = None
    try:
        with av.open(_source(path, data)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if start > 0:
                container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base)
                while len(frames) < num_frames and t > times[len(frames)] + 1e-6:
                    if last is None:  # the first decoded frame is already past the wanted time: take it
                        last = frame.to_ndarray(format="rgb24")
                    frames.append(last)
                if len(frames) == num_frames:
                    break
                last = frame.to_ndarray(format="rgb24")
            while last is not None and len(frames) < num_frames and times[len(frames)] <= _end(stream, container):
                frames.append(last)
    except Exception as e:
        raise BadSample(f"decode failed ({type(e).__name__}: {str(e)[:80]})") from None
    if len(frames) < num_frames:
        raise BadSample(f"truncated: {len(frames)} of {num_frames} frames decodable")
    return resize_crop(np.stack(frames), height, width)


def count_frames(path: pathlib.Path) -> int:
    """Video frames in a file, counted from its packets (no decoding)."""
    try:
        with av.open(str(path)) as container:
            return sum(1 for packet in container.demux(video=0) if packet.size)
    except Exception as e:  # av.error.* for corrupt containers
        raise BadSample(f"undecodable video ({type(e).__name__})") from None


def _end(stream, container) -> float:
    if stream.duration is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else 0.0


def caption_ok(caption: str) -> str:
    if not caption.strip():
        raise BadSample("empty caption")
    return caption
