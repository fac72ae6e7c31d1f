"""Personalized video inference: videos of the subject of a reference image, following a prompt, with a PT2V run's EMA
weights.

Guidance has two scales, as Edit's: `sample.cfg_scale` on the prompt and `sample.source_cfg_scale` on the reference
(InstructPix2Pix's form over (reference + prompt, reference alone, neither); a dropped reference is masked out of the
context, as in training). A clip's noise comes from fold_in(seed, its index), so batching does not change a video.

A reference may be any size, aspect or mode: it is scaled to cover the model's frame and centre-cropped; transparent
pixels (RGBA, LA, a palette with transparency) become the flat grey training references have around the subject (a
cut-out subject is what the paper feeds); greyscale is repeated over RGB.
"""

from __future__ import annotations

import json
import pathlib
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from PIL import Image, UnidentifiedImageError

from mgjax.config.schema import Config
from mgjax.data.characters import REFERENCE_FILL
from mgjax.data.video_files import resize_crop
from mgjax.errors import UserError
from mgjax.flow.path import model_velocity
from mgjax.flow.sampler import euler_sample_mixed, guidance_weights
from mgjax.flow.schedules import make_schedule
from mgjax.models.codec import unit_to_pixels
from mgjax.models.pt2v import build_personalized
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.pipelines.t2v import T2VSampler, in_chunks
from mgjax.pipelines.video_io import check_free, sample_stems, write_video


class PT2VSampler(T2VSampler):
    """`personalize(references, prompts)` -> uint8 videos (b, t, h, w, 3) of the model's clip size."""

    build_model = staticmethod(build_personalized)

    def __init__(self, cfg: Config, workdir, devices=None, use_ema: bool = True):
        super().__init__(cfg, workdir, devices, use_ema)
        graphdef, flow = self.graphdef, cfg.flow

        def velocity(weights, x, t, cond):
            params, rest = weights
            tokens, reference, keep = cond
            out = nnx.merge(graphdef, params, rest)(x, t, tokens, reference, keep)
            return model_velocity(out, x, t, flow.prediction, flow.sigma_min)

        self.pt2v_velocity = velocity

    def personalize(self, references: np.ndarray, prompts: Sequence[str], seed: int | None = None,
                    num_steps: int | None = None, cfg_scale: float | None = None,
                    reference_cfg_scale: float | None = None, progress: bool = True,
                    first_index: int = 0) -> np.ndarray:
        """references: uint8 (b, h, w, 3) at the model's frame size (`read_reference`)."""
        s, d = self.cfg.sample, self.cfg.data
        weights = guidance_weights(s.cfg_scale if cfg_scale is None else cfg_scale,
                                   s.source_cfg_scale if reference_cfg_scale is None else reference_cfg_scale)
        seed = s.seed if seed is None else seed
        num_steps = s.num_steps if num_steps is None else num_steps
        schedule = make_schedule(s.schedule, num_steps, min(s.linear_steps, num_steps - 1), s.linear_reference_steps)
        b = len(prompts)
        shape = self.codec.geometry.latent_shape(d.num_frames, d.height, d.width)
        key = jax.random.key(seed)
        noise = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, first_index + i), shape, jnp.float32))
                          for i in range(b)])
        put = lambda x: put_batch(x, self.mesh, VIDEO_RULES)
        with jax.set_mesh(self.mesh):
            reference, on, off = put(np.asarray(references)), put(np.ones(b, bool)), put(np.zeros(b, bool))
            text, null = put(self.tokens(list(prompts))), put(self.unconditional(b))
            conds = ((text, reference, on), (null, reference, on), (null, reference, off))
            latents = euler_sample_mixed(self.pt2v_velocity, self.weights, put(noise), schedule, conds, weights,
                                         progress=progress)
            out = unit_to_pixels(self.codec.decode(latents, d.num_frames))
        return np.asarray(out)

    def personalize_batched(self, references: np.ndarray, prompts: Sequence[str], batch_size: int,
                            **kw) -> np.ndarray:
        """`personalize` in fixed-size chunks (the last padded), so one compiled step serves every chunk."""
        return in_chunks(batch_size, self.personalize, np.asarray(references), list(prompts), **kw)


def read_reference(path: str | pathlib.Path, height: int, width: int) -> np.ndarray:
    """An image file as a reference: uint8 (height, width, 3) (see the module docstring for sizes and modes)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"--reference {path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (REFERENCE_FILL,) * 3 + (255,))
                im = Image.alpha_composite(flat, rgba)
            frame = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UserError(f"cannot read --reference {path} as an image ({type(e).__name__}: {e})") from None
    return resize_crop(frame[None], height, width)[0]


def personalize_file(cfg: Config, workdir, reference: str | None, prompts: Sequence[str], *, seed: int | None = None,
                     num_steps: int | None = None, cfg_scale: float | None = None,
                     reference_cfg_scale: float | None = None, out: str | None = None,
                     overwrite: bool = False) -> list[tuple[pathlib.Path, str]]:
    """`sample.py --reference IMAGE --prompt ...` with a PT2V run: per prompt, the video and a strip of the reference
    beside each frame (mp4 and gif each; never over an existing file unless `overwrite`). Returns (file, prompt)."""
    if not reference or not prompts:
        raise UserError("a personalized-video run needs --reference IMAGE and at least one --prompt")
    d, s = cfg.data, cfg.sample
    seed = s.seed if seed is None else seed
    num_steps = s.num_steps if num_steps is None else num_steps
    identity = [json.dumps([reference, p, seed, num_steps, cfg_scale, reference_cfg_scale, i])
                for i, p in enumerate(prompts)]
    stems = sample_stems(list(prompts), out, pathlib.Path(workdir) / "samples", identity)
    strips = [stem.with_name(stem.name + "_with_reference") for stem in stems]
    if not overwrite:
        check_free(stems + strips)  # before the model loads
    image = read_reference(reference, d.height, d.width)
    sampler = PT2VSampler(cfg, workdir)
    videos = sampler.personalize(np.repeat(image[None], len(prompts), 0), prompts, seed=seed, num_steps=num_steps,
                                 cfg_scale=cfg_scale, reference_cfg_scale=reference_cfg_scale)
    written = []
    for prompt, stem, strip, video in zip(prompts, stems, strips, videos):
        gap = np.full((d.num_frames, d.height, 2, 3), 255, np.uint8)
        beside = np.concatenate([np.repeat(image[None], d.num_frames, 0), gap, video], axis=2)
        for path in write_video(stem, video, fps=d.fps) + write_video(strip, beside, fps=d.fps):
            written.append((path, prompt))
    return written
