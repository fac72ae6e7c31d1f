"""Spatial upsampling (paper §3.1.7) with a run's EMA weights: low-resolution uint8 videos of any length -> videos
`model.scale` times larger, by MultiDiffusion over windows of `sample.window_frames` frames sharing
`sample.window_overlap` (mgjax/flow/multidiffusion.py).

Memory: the image VAE encodes and decodes `window_frames` frames at a time (into host memory) and the model runs one
window at a time, so device memory is one window's activations plus the clip's latent state (the latent of every
frame, 1/48 of its float pixels for a 4x4x16 image VAE); host memory holds the input and output pixels. A clip's
noise comes from fold_in(seed, its index): the same seed gives the same output whatever the batching.
"""

from __future__ import annotations

import json
import pathlib
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config.schema import Config
from mgjax.data.video_files import (IMAGE_SUFFIXES, BadSample, count_frames, decode_clip, decode_image, probe,
                                    resize_crop)
from mgjax.errors import UserError
from mgjax.flow.multidiffusion import multidiffusion_sample
from mgjax.flow.path import model_velocity
from mgjax.flow.sampler import cfg_combine
from mgjax.flow.schedules import make_schedule
from mgjax.models.codec import pixels_to_unit, unit_to_pixels
from mgjax.models.upsampler import build_upsampler, condition_latent
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.pipelines.t2v import T2VSampler
from mgjax.pipelines.video_io import check_free, resize_video, sample_stems, write_video


class UpsampleSampler(T2VSampler):
    """`upsample(videos)` -> uint8 videos `model.scale` times larger."""

    build_model = staticmethod(build_upsampler)

    def __init__(self, cfg: Config, workdir, devices=None, use_ema: bool = True):
        super().__init__(cfg, workdir, devices, use_ema)
        self._windowed = {}  # cfg scale -> velocity function (one object each: jit caches on it)

    def window_velocity(self, cfg_scale: float):
        """v(weights, x_w, t, low_w, (tokens, null tokens)) for one window, with classifier-free guidance on the text
        when `cfg_scale` != 1 (paper silent; the upsampler's default is 1: the low-resolution video says enough)."""
        if cfg_scale not in self._windowed:
            graphdef, flow = self.graphdef, self.cfg.flow

            def velocity(weights, x, t, low, text):
                params, rest = weights
                tokens, null = text
                model = nnx.merge(graphdef, params, rest)
                if cfg_scale == 1.0:
                    out = model(x, t, tokens, low)
                    return model_velocity(out, x, t, flow.prediction, flow.sigma_min)
                both = [(jnp.concatenate([a, n]), jnp.concatenate([m, nm])) for (a, m), (n, nm) in zip(tokens, null)]
                two = lambda a: jnp.concatenate([a, a])
                out = model_velocity(model(two(x), two(t), both, two(low)), two(x), two(t), flow.prediction,
                                     flow.sigma_min)
                return cfg_combine(out[:x.shape[0]], out[x.shape[0]:], cfg_scale)

            self._windowed[cfg_scale] = velocity
        return self._windowed[cfg_scale]

    def check_size(self, height: int, width: int) -> None:
        """The output must patchify exactly and fit the model's positional tables."""
        m, f = self.cfg.model, self.codec.geometry.factors
        step = (f[1] * m.patch_size[1], f[2] * m.patch_size[2])
        cap = (m.max_patches[1] * step[0], m.max_patches[2] * step[1])
        out = (height * m.scale, width * m.scale)
        if out[0] % step[0] or out[1] % step[1] or out[0] > cap[0] or out[1] > cap[1]:
            raise UserError(f"a {height}x{width} input upsamples to {out[0]}x{out[1]}; this model makes outputs whose "
                            f"sides are multiples of {step[0]}x{step[1]} up to {cap[0]}x{cap[1]} (read_input fits a "
                            f"file to it)")

    def upsample(self, videos: np.ndarray, prompts: Sequence[str] | None = None, seed: int | None = None,
                 num_steps: int | None = None, cfg_scale: float | None = None, overlap: int | None = None,
                 ramp: str | None = None, progress: bool = True, first_index: int = 0) -> np.ndarray:
        """videos: uint8 (b, t, h, w, 3), any t >= 1 -> uint8 (b, t, scale h, scale w, 3). `prompts`: what the clips
        show, if known (a generated clip's prompt); default the empty prompt. `overlap`, `ramp`: frames shared by
        neighbouring windows and their blend (default sample.window_overlap, sample.window_ramp)."""
        s, m = self.cfg.sample, self.cfg.model
        b, frames, h, w, _ = videos.shape
        self.check_size(h, w)
        seed = s.seed if seed is None else seed
        num_steps = s.num_steps if num_steps is None else num_steps
        scale = s.cfg_scale if cfg_scale is None else cfg_scale
        schedule = make_schedule(s.schedule, num_steps, min(s.linear_steps, num_steps - 1), s.linear_reference_steps)
        height, width = h * m.scale, w * m.scale
        shape = self.codec.geometry.latent_shape(frames, height, width)
        key = jax.random.key(seed)
        noise = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, first_index + i), shape, jnp.float32))
                          for i in range(b)])
        text = (self.tokens(list(prompts) if prompts is not None else [""] * b, prefix=prompts is not None),
                self.unconditional(b))
        put = lambda x: put_batch(x, self.mesh, VIDEO_RULES)
        chunk = s.window_frames
        with jax.set_mesh(self.mesh):
            low = np.concatenate([np.asarray(self._encode(put(videos[:, i:i + chunk]), height, width))
                                  for i in range(0, frames, chunk)], axis=1)
            latents = multidiffusion_sample(self.window_velocity(scale), self.weights, put(noise), schedule, put(low),
                                            put(text), s.window_frames,
                                            s.window_overlap if overlap is None else overlap,
                                            s.window_ramp if ramp is None else ramp,
                                            progress=progress)
            out = [np.asarray(self._decode(latents[:, i:i + chunk])) for i in range(0, frames, chunk)]
        return np.concatenate(out, axis=1)

    def _encode(self, low: jax.Array, height: int, width: int) -> jax.Array:
        return condition_latent(self.codec, pixels_to_unit(low), height, width)

    def _decode(self, latents: jax.Array) -> jax.Array:
        return unit_to_pixels(self.codec.decode(latents, latents.shape[1]))


def read_input(path: str | pathlib.Path, height: int, width: int) -> tuple[np.ndarray, float]:
    """An image or video file as the upsampler's input: (uint8 (t, height, width, 3), fps). Every frame of a video is
    kept (any number, one included); an image is a one-frame video. Frames are scaled to cover (height, width) and
    centre-cropped (so odd sizes and other aspect ratios fit); a file smaller than that on either side is refused
    (the upsampler adds detail; it does not stretch a smaller picture)."""
    path = pathlib.Path(path)
    try:
        info = probe(path)
        if info.height < height or info.width < width:
            raise UserError(f"--input {path} is {info.width}x{info.height}; this upsampler takes inputs of at least "
                            f"{width}x{height} (it makes {info.width}x{info.height} frames no sharper)")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return decode_image(path, height, width), 1.0
        frames = max(1, count_frames(path))
        fps = info.fps if info.fps > 0 else 24.0
        return decode_clip(path, 0.0, frames, fps, height, width), fps
    except BadSample as e:
        raise UserError(f"cannot read --input {path}: {e}") from None


def fit_frames(video: np.ndarray, height: int, width: int) -> np.ndarray:
    """A generated or decoded clip scaled to cover (height, width) and centre-cropped."""
    return video if video.shape[1:3] == (height, width) else resize_crop(video, height, width)


def upsample_file(cfg: Config, workdir, path: str, *, prompt: str | None = None, seed: int | None = None,
                  num_steps: int | None = None, cfg_scale: float | None = None, out: str | None = None,
                  overwrite: bool = False) -> tuple[list[pathlib.Path], str]:
    """`sample.py --upsample --input FILE` with the upsampler run `workdir`: writes the upsampled clip and an input
    (bilinear) | output strip (mp4 and gif each; never over an existing file unless `overwrite`). Returns the files
    written and a line saying what they hold."""
    d, m, s = cfg.data, cfg.model, cfg.sample
    seed = s.seed if seed is None else seed
    num_steps = s.num_steps if num_steps is None else num_steps
    identity = [json.dumps([path, [prompt] if prompt else None, seed, num_steps, cfg_scale])]
    stem = sample_stems([pathlib.Path(path).stem + "_upsampled"], out, pathlib.Path(workdir) / "samples", identity)[0]
    strip_stem = stem.with_name(stem.name + "_side_by_side")
    if not overwrite:
        check_free([stem, strip_stem])  # before the model loads
    low, fps = read_input(path, d.height // m.scale, d.width // m.scale)
    high = UpsampleSampler(cfg, workdir).upsample(low[None], [prompt] if prompt else None, seed=seed,
                                                  num_steps=num_steps, cfg_scale=cfg_scale)[0]
    fps = max(1, round(fps))
    strip = np.concatenate([resize_video(low, d.height, d.width, "bilinear"), high], axis=2)
    paths = write_video(stem, high, fps=fps) + write_video(strip_stem, strip, fps=fps)
    return paths, f"{low.shape[0]} frames, {low.shape[2]}x{low.shape[1]} -> {high.shape[2]}x{high.shape[1]}"
