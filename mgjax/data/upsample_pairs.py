"""The spatial upsampler's training and evaluation pairs (paper §3.1.7): a clip at the output resolution and its
degraded low-resolution input (mgjax/data/degradations.py), as step-indexed Grain batches.

Content: real videos (`video_folder`, `tfds`: the paper trains on HD videos), or `natural_clips` (Moving Shapes
with textured backgrounds, 1/f textures and scikit-image's photos under a moving camera; data.natural weighs them).
Held out: Moving Shapes' held-out split ("heldout_shapes") and the held-out photos ("heldout_real"), degraded exactly
as in training. Every pair is a pure function of (seed, split, index). The paper's TAE artifacts are added on device
by the train step (mgjax/train/upsample_step.py), to a fixed share of each batch.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import grain
import numpy as np

from mgjax.config.degradation import DegradationConfig
from mgjax.config.schema import Config
from mgjax.data.degradations import degrade
from mgjax.data.t2v_loader import (MappedBatches, StepToBatch, Tokenize, iterate_steps, natural_source,
                                   shapes_source)
from mgjax.data.video_pipeline import VideoFolderBatches

SPLITS = ("train", "heldout_shapes", "heldout_real")


def upsample_content(cfg: Config, split: str = "train", images: bool = False):
    """Clips at the output resolution: {"video", "caption"} by index."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "heldout_shapes":
        return shapes_source(cfg.data, "heldout", images)
    return natural_source(cfg.data, "heldout" if split == "heldout_real" else "train", images)


@dataclasses.dataclass(frozen=True)
class UpsamplePairs:
    """Random access: {"video": uint8 (t, H, W, 3), "source": the degraded uint8 (t, H / scale, W / scale, 3),
    "caption"}; picklable for Grain workers."""

    content: object
    degradation: DegradationConfig
    scale: int
    seed: int
    split: str = "train"

    def __len__(self) -> int:
        return len(self.content)

    def __getitem__(self, index: int) -> dict:
        item = self.content[index]
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), int(index), 31])
        source = degrade(item["video"], self.degradation, self.scale, rng)
        return {"video": item["video"], "source": source, "caption": str(item["caption"])}


def upsample_pairs(cfg: Config, split: str = "train", images: bool = False) -> UpsamplePairs:
    u = cfg.data.upsample
    return UpsamplePairs(upsample_content(cfg, split, images), u.degradation, cfg.model.scale, cfg.data.seed, split)


def upsample_batches(cfg: Config, tokenizers: Sequence, start_step: int = 0, num_steps: int | None = None,
                     state: dict | None = None) -> Iterator[dict]:
    """Batches {"video", "source", "text"}. natural_clips: as the text-to-video mix (every `data.image_every`-th
    batch one-frame images, the others the next b clip pairs). video_folder / tfds: the folder's
    bucketed clips (resumed from `state`), clip i of step s degraded by the generator of (seed, s, i)."""
    d = cfg.data
    if d.source in ("video_folder", "tfds"):  # real clips, bucketed; degraded in the main process as they arrive
        pipeline = VideoFolderBatches(cfg, start_step, num_steps, state)
        return MappedBatches(pipeline, FolderPairs(cfg.data.upsample.degradation, cfg.model.scale, d.seed, start_step,
                                                   Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), None)))
    batched = lambda images: grain.MapDataset.source(upsample_pairs(cfg, "train", images)).batch(
        d.batch_size, drop_remainder=True)
    stop = cfg.train.steps if num_steps is None else start_step + num_steps
    ds = grain.MapDataset.range(start_step, stop).map(
        StepToBatch(batched(False), batched(True) if d.image_every else None, d.image_every))
    return iterate_steps(ds.map(Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), None)), d)


class FolderPairs:
    """A video folder's batch -> its pairs, tokenized: clip i of the s-th batch (counting from `start_step`, so a
    resumed run degrades as an uninterrupted one) by the generator of (seed, s, i)."""

    def __init__(self, degradation: DegradationConfig, scale: int, seed: int, start_step: int, tokenize: Tokenize):
        self.degradation, self.scale, self.seed = degradation, scale, seed
        self.step, self.tokenize = start_step, tokenize

    def __call__(self, batch: dict) -> dict:
        sources = [degrade(clip, self.degradation, self.scale, np.random.default_rng([self.seed, self.step, i, 37]))
                   for i, clip in enumerate(batch["video"])]
        self.step += 1
        return self.tokenize({**batch, "source": np.stack(sources)})
