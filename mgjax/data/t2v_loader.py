"""Text-to-video (and caption-free autoencoder) training batches as a Grain pipeline, indexed by train step.

Batch `s` is a pure function of (config, s): a resumed run continues with exactly the batches an uninterrupted run
would have seen, with no iterator state to save. Every `image_every`-th batch holds one-frame images (the paper mixes
images into video training).
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Iterator, Sequence

import grain
import numpy as np

from mgjax.config.data import DataConfig
from mgjax.config.geometry import patch_grid
from mgjax.config.schema import Config
from mgjax.config.text import TextEncoderConfig
from mgjax.data.buckets import Bucket
from mgjax.data.latent_records import LatentSource, read_meta
from mgjax.data.moving_shapes import MovingShapes, caption_corpus
from mgjax.data.natural_clips import NaturalClips
from mgjax.data.video_pipeline import Plan, VideoFolderBatches, build_index
from mgjax.errors import UserError
from mgjax.models.text.prompts import build_prompt, with_fps_prefix
from mgjax.models.text.stack import encode_prompts


def shapes_source(data: DataConfig, split: str = "train", images: bool = False) -> MovingShapes:
    shapes = data.shapes
    return MovingShapes(split, num_frames=1 if images else data.num_frames, height=data.height, width=data.width,
                        seed=data.seed + (1 if images else 0), two_object_prob=shapes.two_object_prob,
                        textured_prob=shapes.textured_prob, start_spread=shapes.start_spread,
                        background_level_spread=shapes.background_level_spread)


def natural_source(data: DataConfig, split: str = "train", images: bool = False) -> NaturalClips:
    return NaturalClips(split, num_frames=1 if images else data.num_frames, height=data.height, width=data.width,
                        seed=data.seed + (1 if images else 0), mix=data.natural,
                        shapes=shapes_source(data, "train", images))


def pixel_source(data: DataConfig, split: str = "train", images: bool = False) -> MovingShapes | NaturalClips:
    """The procedural clips a config names (data.source moving_shapes or natural_clips)."""
    return (natural_source if data.source == "natural_clips" else shapes_source)(data, split, images)


@dataclasses.dataclass(frozen=True)
class StepToBatch:
    """step -> {"video": uint8 (b, t, h, w, 3), "caption": (b,) str}; picklable for Grain workers."""

    videos: grain.MapDataset
    images: grain.MapDataset | None
    image_every: int

    def __call__(self, step: int) -> dict:
        k = self.image_every
        if self.images is not None and step % k == k - 1:
            return self.images[step // k]
        return self.videos[step - (step // k if k else 0)]


@dataclasses.dataclass(frozen=True)
class Tokenize:
    """Adds per-encoder token ids and masks, and drops the caption strings (arrays only reach the device)."""

    encoders: tuple[TextEncoderConfig, ...]
    tokenizers: tuple
    fps: int | None
    precomputed: bool = False
    truncated: collections.Counter = dataclasses.field(default_factory=collections.Counter, compare=False)

    def __call__(self, batch: dict) -> dict:
        if "text_mask_0" in batch and self.precomputed:  # the encoders' outputs came with the records
            n = len(self.encoders)
            text = [(batch[f"text_{i}"], batch[f"text_mask_{i}"]) for i in range(n)]
            return {"latent": batch["latent"], "text": text}
        captions = [str(c) for c in batch["caption"]]
        if self.fps is not None:
            captions = [with_fps_prefix(c, self.fps) for c in captions]
        tokens = encode_prompts(captions, self.encoders, self.tokenizers, self.truncated)
        arrays = {k: v for k, v in batch.items() if k != "caption"}  # "video", or precomputed "latent"
        return {**arrays, "text": [(t.ids, t.mask) for t in tokens]}


def _step_dataset(cfg: Config, start_step: int, num_steps: int | None) -> grain.MapDataset:
    d = cfg.data
    batch = lambda src: grain.MapDataset.source(src).batch(d.batch_size, drop_remainder=True)
    if d.source == "latents":  # records cycle in order: batch s holds records s*b .. s*b + b - 1 (mod their number)
        source = LatentSource(d.latents_path)
        stop = cfg.train.steps if num_steps is None else start_step + num_steps
        if len(source.meta.get("latent_shapes", [None])) > 1:  # bucketed records (from a video folder)
            return grain.MapDataset.range(start_step, stop).map(latent_bucket_step(cfg, source))
        records = grain.MapDataset.source(source).repeat()
        videos = records.batch(d.batch_size, drop_remainder=True)
        return grain.MapDataset.range(start_step, stop).map(StepToBatch(videos, None, 0))
    videos = batch(pixel_source(d))
    images = batch(pixel_source(d, images=True)) if d.image_every else None
    stop = cfg.train.steps if num_steps is None else start_step + num_steps
    return grain.MapDataset.range(start_step, stop).map(StepToBatch(videos, images, d.image_every))


@dataclasses.dataclass(frozen=True)
class LatentBucketStep:
    """step -> a batch of records sharing one latent shape: the video-folder plan (seeded per-epoch permutations of
    each shape's records, batches shuffled together) over precomputed latents."""

    source: object
    plan: object

    def __call__(self, step: int) -> dict:
        epoch, j = divmod(int(step), self.plan.batches_per_epoch)
        b, perm, start = self.plan.epoch(epoch)[j]
        bs = self.plan.buckets[b][2]
        records = [self.source[i] for i in perm[start:start + bs]]
        return {k: (np.array([r[k] for r in records]) if k == "caption" else np.stack([r[k] for r in records]))
                for k in records[0]}


def latent_bucket_step(cfg: Config, source) -> LatentBucketStep:
    d = cfg.data
    shapes = source.record_shapes()
    groups: dict[tuple, list[int]] = {}
    for i, shape in enumerate(map(tuple, shapes.tolist())):
        groups.setdefault(shape, []).append(i)
    buckets = []
    for (t, h, w, _), ids in sorted(groups.items()):
        tokens = math.prod(patch_grid((t, h, w), cfg.model.patch_size))
        bs = max(1, d.token_budget // tokens) if d.token_budget else d.batch_size
        buckets.append((Bucket(t, h, w), tuple(ids), bs))
    plan = Plan(tuple(buckets), d.seed)
    if not plan.batches_per_epoch:
        raise UserError(f"no latent bucket in {d.latents_path!r} holds a full batch of {d.batch_size}")
    return LatentBucketStep(source, plan)


def iterate_steps(ds: grain.MapDataset, d: DataConfig) -> Iterator[dict]:
    ds = ds.to_iter_dataset()
    if d.num_workers > 0:
        ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=d.num_workers))
    return iter(ds)


class MappedBatches(Iterator[dict]):
    """A video-folder pipeline with a main-process transform (tokenizing, dropping captions); keeps the pipeline's
    state and its process-local batches."""

    process_local = True

    def __init__(self, pipeline, fn):
        self.pipeline, self.fn = pipeline, fn

    def __next__(self) -> dict:
        return self.fn(next(self.pipeline))

    def get_state(self) -> dict:
        return self.pipeline.get_state()

    def close(self) -> None:
        self.pipeline.close()


def t2v_batches(cfg: Config, tokenizers: Sequence, start_step: int = 0,
                num_steps: int | None = None, state: dict | None = None) -> Iterator[dict]:
    """Batches for steps start_step, start_step + 1, ... (num_steps of them; default: up to train.steps). A video
    folder resumes from `state` (its saved iterator state) when given."""
    d = cfg.data
    if d.source in ("video_folder", "tfds"):  # captions already carry their own FPS prefix (it varies by bucket)
        pipeline = VideoFolderBatches(cfg, start_step, num_steps, state)
        return MappedBatches(pipeline, Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), None))
    fps = d.fps if d.fps_prefix else None
    if d.source == "latents":
        meta = read_meta(d.latents_path)
        if meta.get("captions_are_prompts"):  # a video folder's records: FPS prefixes already written
            fps = None
        if cfg.text.precomputed and not meta.get("text_encoders"):
            raise UserError(f"text.precomputed needs records written with --text; {d.latents_path} holds captions "
                            f"only (`python -m mgjax precompute --text --workdir RUN ...`)")
    tokenize = Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), fps, cfg.text.precomputed)
    return iterate_steps(_step_dataset(cfg, start_step, num_steps).map(tokenize), d)


def still_batches(cfg: Config, encoder: TextEncoderConfig, tokenizer, start_step: int = 0,
                  num_steps: int | None = None) -> Iterator[dict]:
    """Moving Shapes stills with their captions tokenized for one encoder (CLIP's text tower): {"video": uint8
    (b, 1, h, w, 3), "text": [(ids, mask)]}, on the same step-indexed schedule."""
    tokenize = Tokenize((encoder,), (tokenizer,), None)
    return iterate_steps(_step_dataset(cfg, start_step, num_steps).map(tokenize), cfg.data)


def _video_only(batch: dict) -> dict:
    return {"video": batch["video"]}


def video_batches(cfg: Config, start_step: int = 0, num_steps: int | None = None) -> Iterator[dict]:
    """Caption-free batches {"video": uint8 (b, t, h, w, 3)} for autoencoder training, on the same step-indexed
    schedule (every `image_every`-th batch holds one-frame images)."""
    if cfg.data.source in ("video_folder", "tfds"):
        return MappedBatches(VideoFolderBatches(cfg, start_step, num_steps), _video_only)
    return iterate_steps(_step_dataset(cfg, start_step, num_steps).map(_video_only), cfg.data)


def caption_corpus_for(cfg: Config, num: int = 5000) -> list[str]:
    """Up to `num` of the prompts the model trains on, as the loader builds them, plus the empty prompt: the corpus
    a tokenizer is trained on when none is given. The data's own captions: a folder's (with their camera and FPS
    prefixes; the FPS varies per clip, so the config's stands in), cached records' or Moving Shapes'."""
    d = cfg.data
    if d.source in ("video_folder", "tfds"):
        entries = build_index(d)[0][:num]
        return [build_prompt(e.item.caption, fps=d.fps if d.fps_prefix and not e.info.is_image else None,
                             camera_motion=e.item.camera_motion or None) for e in entries] + [""]
    prefix = d.fps_prefix
    if d.source == "latents":
        source = LatentSource(d.latents_path)
        corpus = [str(source[i]["caption"]) for i in range(min(num, len(source)))]
        prefix = prefix and not source.meta.get("captions_are_prompts")
    else:
        corpus = caption_corpus(num=num, seed=d.seed, num_frames=d.num_frames)
    return [with_fps_prefix(c, d.fps) if prefix else c for c in corpus] + [""]


