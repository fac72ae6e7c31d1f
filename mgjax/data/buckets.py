"""Aspect-ratio x duration buckets (paper §3.2.1, v1 Table 2): every sample of a bucket has the same frame count and
size, so a batch stacks without padding; each bucket's batch size comes from a token budget.

In "native" FPS mode (the paper's pre-training: original FPS with a floor of 16) a video is sampled at its own FPS
clamped to [fps_floor, fps_cap] and takes the longest duration bucket whose frame count at that FPS fits the video and
the bucket's seconds. In "bucket" mode a clip of L = min(D, longest bucket's max seconds) takes the bucket whose
[min_s, max_s] holds L and spreads its F frames over it (F / L fps). Either way the FPS is written into the caption.
The paper's table allows 256 frames over 10.67-16 s, 192 over 8-10.67 s and 128 over 4-8 s (16-32 fps); a clip that
fits no bucket is skipped as too short. Images form their own one-frame buckets, one per aspect ratio.
"""

from __future__ import annotations

import dataclasses
import math

from mgjax.data.video_files import BadSample, MediaInfo


TOL = 0.01  # seconds: the table's 10.67 s is 256 frames / 24 fps rounded


@dataclasses.dataclass(frozen=True)
class Bucket:
    frames: int
    height: int
    width: int

    @property
    def key(self) -> str:
        return f"{self.frames}x{self.height}x{self.width}"


def aspect_index(width: int, height: int, sizes: tuple[tuple[int, int], ...]) -> int:
    """The (height, width) bucket whose aspect ratio is nearest in log space."""
    r = math.log(width / height)
    return min(range(len(sizes)), key=lambda i: abs(math.log(sizes[i][1] / sizes[i][0]) - r))


def clip_plan(info: MediaInfo, durations: tuple[tuple[int, float, float], ...],
              fps_range: tuple[float, float] | None = None) -> tuple[int, float]:
    """-> (frames, clip seconds) for a video; images -> (1, 0).

    fps_range=None ("bucket" mode): the clip is as long as the video allows (up to the longest bucket) and its bucket's
    frames are spread over it. fps_range=(floor, cap) ("native" mode, the paper's pre-training): the clip is sampled
    at the video's own FPS clamped to the range, and the longest bucket whose frames at that FPS fit both the video
    and the bucket's seconds is taken."""
    if info.is_image:
        return 1, 0.0
    if fps_range is None:
        length = min(info.duration, max(d[2] for d in durations))
        for frames, lo, hi in durations:
            if lo - TOL <= length <= hi + TOL:
                return frames, length
    else:
        fps = min(max(info.fps, fps_range[0]), fps_range[1])
        for frames, lo, hi in sorted(durations, reverse=True):
            length = frames / fps
            if lo - TOL <= length <= hi + TOL and length <= info.duration + TOL:
                return frames, length
    raise BadSample(f"too short: {info.duration:.2f}s at {info.fps:g} fps fits no duration bucket")


def assign(info: MediaInfo, sizes: tuple[tuple[int, int], ...], durations: tuple[tuple[int, float, float], ...],
           fps_range: tuple[float, float] | None = None) -> tuple[Bucket, float]:
    frames, length = clip_plan(info, durations, fps_range)
    h, w = sizes[aspect_index(info.width, info.height, sizes)]
    return Bucket(frames, h, w), length


def latent_tokens(bucket: Bucket, factors: tuple[int, int, int], patch: tuple[int, int, int]) -> int:
    """Backbone tokens of one sample: ceil(frames / ft) latent frames (the TAE's rule), then patches."""
    t = -(-bucket.frames // factors[0])
    return (-(-t // patch[0])) * (bucket.height // (factors[1] * patch[1])) * (bucket.width // (factors[2] * patch[2]))


def batch_size(bucket: Bucket, token_budget: int, factors, patch, multiple: int = 1) -> int:
    """As many samples as fit the token budget, rounded down to a multiple of `multiple` (the data-parallel size),
    at least `multiple`."""
    n = token_budget // latent_tokens(bucket, factors, patch)
    return max(multiple, n - n % multiple)
