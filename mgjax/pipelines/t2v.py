"""Text-to-video sampling from a training run's EMA weights: prompts -> uint8 videos."""

from __future__ import annotations

import pathlib
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

from mgjax.checkpoint.restore import check_weights, load_codec, load_weights
from mgjax.config.flow import FlowConfig
from mgjax.config.schema import Config
from mgjax.flow.path import model_velocity
from mgjax.flow.sampler import euler_sample
from mgjax.flow.schedules import make_schedule
from mgjax.models.codec import unit_to_pixels
from mgjax.models.t2v import build_model, split_model
from mgjax.models.text.embedder import TextEmbedder
from mgjax.models.text.prompts import with_fps_prefix
from mgjax.models.text.stack import encode_prompts, load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch


def in_chunks(batch_size: int, run, *columns, **kw) -> np.ndarray:
    """`run(*chunk_of_each_column, first_index=i, **kw)` over fixed-size chunks of the columns (arrays or lists; the
    last chunk padded by repeating its last row), outputs concatenated: one compiled sampler serves every chunk."""
    out, total = [], len(columns[0])
    for i in range(0, total, batch_size):
        n = min(batch_size, total - i)
        pad = lambda c: (np.concatenate([c[i:i + n]] + [c[i + n - 1:i + n]] * (batch_size - n))
                         if isinstance(c, np.ndarray) else list(c[i:i + n]) + [c[i + n - 1]] * (batch_size - n))
        out.append(run(*map(pad, columns), first_index=i, **kw)[:n])
    return np.concatenate(out)


def _velocity(graphdef, flow: FlowConfig):
    def velocity(weights, x, t, tokens):
        params, rest = weights
        out = nnx.merge(graphdef, params, rest)(x, t, tokens)
        return model_velocity(out, x, t, flow.prediction, flow.sigma_min)

    return velocity


class T2VSampler:
    """Loads a run's tokenizers and EMA weights once; `sample()` then runs the Euler sampler with CFG."""

    build_model = staticmethod(build_model)  # a system on this backbone builds its own model (pipelines/edit.py)

    def __init__(self, cfg: Config, workdir: str | pathlib.Path, devices=None, use_ema: bool = True):
        self.cfg = cfg
        check_weights(workdir)  # a training run or a safetensors export; first: a wrong directory is likeliest
        self.mesh = make_mesh(cfg.mesh, devices)
        self.tokenizers = load_or_train_tokenizers(cfg.text.encoders, workdir)
        with jax.set_mesh(self.mesh):
            self.codec = load_codec(cfg.codec)
            self.graphdef, params, rest = split_model(cfg, self.build_model(cfg))
            which = "ema" if use_ema else "params"
            restored, self.step = load_weights({which: params, "rest": rest}, workdir, config=cfg)
        self.embedder = None
        if cfg.text.precomputed:  # the model was trained on precomputed outputs: run the frozen encoders here
            with jax.set_mesh(self.mesh):
                self.embedder = TextEmbedder(cfg.text.encoders, self.tokenizers)
        self.weights = (restored[which], restored["rest"])
        self.velocity = _velocity(self.graphdef, cfg.flow)

    def tokens(self, prompts: Sequence[str], prefix: bool = True):
        """Encoder inputs for prompts, with the FPS prefix as in training (prefix=False: as given)."""
        d = self.cfg.data
        if d.fps_prefix and prefix:
            prompts = [with_fps_prefix(p, d.fps) for p in prompts]
        if self.embedder is not None:
            return self.embedder.embed(list(prompts))
        return [(t.ids, t.mask) for t in encode_prompts(list(prompts), self.cfg.text.encoders, self.tokenizers)]

    def unconditional(self, n: int):
        """The classifier-free-guidance input: the bare empty prompt, as training's text dropout used it
        (the t2v task's null_prompt_tokens, null_text.npz), without the FPS prefix."""
        return self.tokens([""] * n, prefix=False)

    def sample(self, prompts: Sequence[str], seed: int | None = None, num_steps: int | None = None,
               cfg_scale: float | None = None, progress: bool = True, first_index: int = 0) -> np.ndarray:
        """-> uint8 (b, t, h, w, 3). Prompt i's noise comes from fold_in(seed, first_index + i), so a prompt's video
        does not depend on how prompts were batched."""
        s, d = self.cfg.sample, self.cfg.data
        seed = s.seed if seed is None else seed
        num_steps = s.num_steps if num_steps is None else num_steps
        cfg_scale = s.cfg_scale if cfg_scale is None else cfg_scale
        schedule = make_schedule(s.schedule, num_steps, min(s.linear_steps, num_steps - 1), s.linear_reference_steps)
        shape = self.codec.geometry.latent_shape(d.num_frames, d.height, d.width)
        key = jax.random.key(seed)
        noise = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, first_index + i), shape, jnp.float32))
                          for i in range(len(prompts))])
        cond = self.tokens(prompts)
        uncond = self.unconditional(len(prompts))
        with jax.set_mesh(self.mesh):
            latents = euler_sample(self.velocity, self.weights, put_batch(noise, self.mesh, VIDEO_RULES), schedule,
                                   put_batch(cond, self.mesh, VIDEO_RULES), put_batch(uncond, self.mesh, VIDEO_RULES),
                                   cfg_scale=cfg_scale, progress=progress)
            video = self.codec.decode(latents, d.num_frames)
        video = unit_to_pixels(video)
        if not video.is_fully_addressable:  # several processes: each holds only its devices' part of the batch
            video = multihost_utils.process_allgather(video, tiled=True)
        return np.asarray(video)

    def sample_batched(self, prompts: Sequence[str], batch_size: int, **kw) -> np.ndarray:
        """Sample in fixed-size chunks (the last one padded) so one compiled step serves every chunk."""
        out = []
        for i in range(0, len(prompts), batch_size):
            chunk = list(prompts[i:i + batch_size])
            pad = batch_size - len(chunk)
            videos = self.sample(chunk + [chunk[-1]] * pad, first_index=i, **kw)
            out.append(videos[: len(chunk)])
        return np.concatenate(out)
