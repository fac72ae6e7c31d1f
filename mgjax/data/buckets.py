"""Aspect-ratio x duration buckets (paper §3.2.1, v1 Table 2): every sample of a bucket has the same frame count and
size, so a batch stacks without padding; each bucket's batch size comes from a token budget.

A video of duration D is cut to a clip of L = min(D, longest bucket's max seconds); the first duration bucket whose
[min_s, max_s] holds L gives the frame count F, and the clip is sampled at F / L frames per second (the FPS the caption
prefix states). With the paper's table that is 256 frames over 10.67-16 s (24-16 fps), 192 over 8-10.67 s and 128 over
4-8 s (32-16 fps); clips shorter than the last bucket's min_s are skipped as too short. Images form their own
one-frame buckets, one per aspect ratio.
"""

from __future__ import annotations

import dataclasses
import math

from mgjax.data.video_files import BadSample, MediaInfo


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


def clip_plan(info: MediaInfo, durations: tuple[tuple[int, float, float], ...]) -> tuple[int, float]:
    """-> (frames, clip seconds) for a video; images -> (1, 0)."""
    if info.is_image:
        return 1, 0.0
    length = min(info.duration, max(d[2] for d in durations))
    for frames, lo, hi in durations:
        if lo - 1e-3 <= length <= hi + 1e-3:
            return frames, length
    raise BadSample(f"too short: {info.duration:.2f}s < {min(d[1] for d in durations):g}s")


def assign(info: MediaInfo, sizes: tuple[tuple[int, int], ...],
           durations: tuple[tuple[int, float, float], ...]) -> tuple[Bucket, float]:
    frames, length = clip_plan(info, durations)
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
