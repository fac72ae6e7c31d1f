"""Movie Gen Edit inference: edit videos by instruction with a run's EMA weights, and stage III's backtranslation job.

Guidance is InstructPix2Pix's two scales (`sample.cfg_scale` on the instruction, `sample.source_cfg_scale` on the
input video); a black video stands for "no input", as in training. A clip's noise comes from fold_in(seed, its
index), so the same seed gives the same output whatever the batching.
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
from mgjax.data.edit_loader import write_backtranslated
from mgjax.data.shape_edits import (EDIT_TYPES, TASKS, ShapeEdits, backward_edit, is_heldout, render_scene,
                                   task_of)
from mgjax.data.video_files import IMAGE_SUFFIXES, BadSample, count_frames, decode_clip, decode_image, probe
from mgjax.errors import UserError
from mgjax.flow.path import model_velocity
from mgjax.flow.sampler import euler_sample_mixed, guidance_weights
from mgjax.flow.schedules import make_schedule
from mgjax.models.codec import pixels_to_unit, unit_to_pixels
from mgjax.models.edit import build_editor
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.pipelines.t2v import T2VSampler, in_chunks
from mgjax.pipelines.video_io import check_free, sample_stems, write_video


class EditSampler(T2VSampler):
    """`edit(videos, instructions, tasks)` -> edited uint8 videos of the same shape."""

    build_model = staticmethod(build_editor)

    def __init__(self, cfg: Config, workdir, devices=None, use_ema: bool = True):
        super().__init__(cfg, workdir, devices, use_ema)
        graphdef, flow = self.graphdef, cfg.flow

        def velocity(weights, x, t, cond):
            params, rest = weights
            tokens, source, task = cond
            out = nnx.merge(graphdef, params, rest)(x, t, tokens, source, task)
            return model_velocity(out, x, t, flow.prediction, flow.sigma_min)

        self.edit_velocity = velocity

    def edit(self, videos: np.ndarray, instructions: Sequence[str], tasks: Sequence[str], seed: int | None = None,
             num_steps: int | None = None, cfg_scale: float | None = None, source_cfg_scale: float | None = None,
             progress: bool = True, first_index: int = 0) -> np.ndarray:
        """videos: uint8 (b, t, h, w, 3) at the model's size; tasks: names from TASKS (not "t2v")."""
        s = self.cfg.sample
        weights = guidance_weights(s.cfg_scale if cfg_scale is None else cfg_scale,
                                   s.source_cfg_scale if source_cfg_scale is None else source_cfg_scale)
        task_ids = np.array([task_id(x) for x in tasks], np.int32)
        return self._run(videos, self.tokens(list(instructions), prefix=False), task_ids, weights, seed, num_steps,
                         progress, first_index)

    def generate(self, prompts: Sequence[str], seed: int | None = None, num_steps: int | None = None,
                 cfg_scale: float | None = None, progress: bool = True) -> np.ndarray:
        """Text-to-video with the edit model (task 0, a black input video), as its multitask training kept it."""
        d = self.cfg.data
        scale = self.cfg.sample.cfg_scale if cfg_scale is None else cfg_scale
        black = np.zeros((len(prompts), d.num_frames, d.height, d.width, 3), np.uint8)
        return self._run(black, self.tokens(list(prompts)), np.zeros((len(prompts),), np.int32),
                         (scale, 1.0 - scale, 0.0), seed, num_steps, progress, 0)

    def _run(self, videos, text, task_ids, weights, seed, num_steps, progress, first_index) -> np.ndarray:
        """The Euler sampler over (input + text, input alone, neither) weighted by `weights`."""
        s = self.cfg.sample
        seed = s.seed if seed is None else seed
        num_steps = s.num_steps if num_steps is None else num_steps
        schedule = make_schedule(s.schedule, num_steps, min(s.linear_steps, num_steps - 1), s.linear_reference_steps)
        b, t, h, w, _ = videos.shape
        shape = self.codec.geometry.latent_shape(t, h, w)
        key = jax.random.key(seed)
        noise = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, first_index + i), shape, jnp.float32))
                          for i in range(b)])
        null = self.unconditional(b)
        put = lambda x: put_batch(x, self.mesh, VIDEO_RULES)
        with jax.set_mesh(self.mesh):
            source = self.codec.encode(pixels_to_unit(put(videos)))
            black = self.codec.encode(pixels_to_unit(put(np.zeros_like(videos))))
            tasks = put(task_ids)
            conds = ((put(text), source, tasks), (put(null), source, tasks), (put(null), black, tasks))
            latents = euler_sample_mixed(self.edit_velocity, self.weights, put(noise), schedule, conds, weights,
                                         progress=progress)
            out = unit_to_pixels(self.codec.decode(latents, t))
        return np.asarray(out)

    def edit_batched(self, videos: np.ndarray, instructions: Sequence[str], tasks: Sequence[str], batch_size: int,
                     **kw) -> np.ndarray:
        """`edit` in fixed-size chunks (the last padded), so one compiled step serves every chunk."""
        return in_chunks(batch_size, self.edit, np.asarray(videos), list(instructions), list(tasks), **kw)


def task_id(name: str) -> int:
    if name not in TASKS[1:]:
        raise UserError(f"unknown edit task {name!r}; valid: {', '.join(TASKS[1:])}")
    return TASKS.index(name)


def read_input(path: str | pathlib.Path, num_frames: int, height: int, width: int) -> np.ndarray:
    """An image or video file as the model's input: uint8 (t, height, width, 3). Frames are scaled to cover the
    model's size and centre-cropped; a video gives `num_frames` frames spread evenly over its whole length (it needs
    at least that many); an image gives a one-frame video (the model edits images too, as in stage I)."""
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return decode_image(path, height, width)
        info = probe(path)
        available = int(round(info.duration * info.fps))
        if available < 2 * num_frames:  # header estimates are rough for short clips (a GIF's): count the frames
            available = count_frames(path)
        if available < num_frames:
            raise UserError(f"--input {path} has {available} frames; this model edits {num_frames}-frame videos "
                            f"(or a single image)")
        return decode_clip(path, 0.0, num_frames, num_frames / info.duration, height, width)
    except BadSample as e:
        raise UserError(f"cannot read --input {path}: {e}") from None


def edit_file(cfg: Config, workdir, instruction: str, *, path: str | None = None, prompt: str | None = None,
              task: str | None = None, seed: int | None = None, num_steps: int | None = None,
              cfg_scale: float | None = None, source_cfg_scale: float | None = None, out: str | None = None,
              overwrite: bool = False) -> tuple[list[pathlib.Path], str]:
    """`sample.py` with an edit run: edits the video or image `path`, or a clip the run generates from `prompt`, by
    `instruction`; writes the edit and an input | output strip (mp4 and gif each; never over an existing file unless
    `overwrite`). `task`: the edit task, by default read from the instruction. Returns the files written and a line
    saying what they hold."""
    instruction = instruction.strip()
    if not instruction:
        raise UserError("an edit run needs a non-empty --instruction, e.g. --instruction 'make the red circle blue'")
    task = task or task_of(instruction)
    if task is None:
        raise UserError(f"cannot tell the edit task from {instruction!r}; give --task, one of {', '.join(TASKS[1:])}")
    task_id(task)  # an unknown task is one line, before anything loads
    d, s = cfg.data, cfg.sample
    seed = s.seed if seed is None else seed
    num_steps = s.num_steps if num_steps is None else num_steps
    identity = [json.dumps([path or prompt, instruction, task, seed, num_steps, cfg_scale, source_cfg_scale])]
    stem = sample_stems([instruction], out, pathlib.Path(workdir) / "samples", identity)[0]
    strip_stem = stem.with_name(stem.name + "_side_by_side")
    if not overwrite:
        check_free([stem, strip_stem])  # before the model loads
    video = read_input(path, d.num_frames, d.height, d.width) if path else None
    sampler = EditSampler(cfg, workdir)
    if video is None:
        video = sampler.generate([prompt], seed=seed, num_steps=num_steps, cfg_scale=cfg_scale)[0]
    edited = sampler.edit(video[None], [instruction], [task], seed=seed, num_steps=num_steps, cfg_scale=cfg_scale,
                          source_cfg_scale=source_cfg_scale)[0]
    paths = write_video(stem, edited, fps=d.fps) + write_video(strip_stem, np.concatenate([video, edited], 2), d.fps)
    return paths, f"{instruction!r}, task {task}"


def backtranslate(cfg: Config, workdir, out: str | pathlib.Path, num: int, seed: int = 0,
                  batch_size: int | None = None) -> dict:
    """Stage III data (paper §5.2): the stage II model at `workdir` edits real clips with forward instructions; each
    record is (input = its edit, instruction = the backward one, target = the real clip), so every target is a real
    clip. Only training combinations are used, forward and backward. Writes `out` atomically; returns counts."""
    sampler = EditSampler(cfg, workdir)
    d = cfg.data
    clips = ShapeEdits("train", num_frames=d.num_frames, height=d.height, width=d.width, seed=d.seed + 1000 + seed,
                       types=EDIT_TYPES, two_object_prob=d.edit.two_object_prob, start_spread=d.shapes.start_spread)
    forward, backward = [], []
    rng = np.random.default_rng([seed, 17])
    index = 0
    while len(forward) < num:
        e = clips.edit(index)
        index += 1
        back = backward_edit(e, rng)
        if not is_heldout(back.combo):
            forward.append(e)
            backward.append(back)
    sources = np.stack([render_scene(e.source, d.num_frames, d.height, d.width) for e in forward])
    edited = sampler.edit_batched(sources, [e.instruction for e in forward], [e.type for e in forward],
                                  batch_size or cfg.sample.batch_size, seed=seed)
    records = {"source": edited, "video": sources, "caption": np.array([b.instruction for b in backward]),
               "task": np.array([TASKS.index(b.type) for b in backward], np.int32)}
    write_backtranslated(out, records, {"workdir": str(workdir), "step": int(sampler.step), "config": cfg.name,
                                        "num": num, "seed": seed})
    return {"records": num, "by_type": {t: sum(e.type == t for e in forward) for t in EDIT_TYPES}}
