"""Personalized-video training batches (paper §4.2) as a Grain pipeline indexed by train step: Characters clips, their
captions tokenized, and one reference image each: paired (a masked frame of the clip) or, with probability
`data.pt2v.cross_pair_prob`, cross-paired (the same identity in another pose and lighting). Batch `s` is a pure
function of (config, s), so a resumed run sees exactly the batches an uninterrupted one would have."""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import grain
import numpy as np

from mgjax.config.schema import Config
from mgjax.data.characters import Characters, caption
from mgjax.data.t2v_loader import Tokenize, iterate_steps

_REFERENCE_STREAM = 61  # seeds the paired / cross-paired draw apart from the clips' own


def characters_source(cfg: Config, split: str = "train") -> Characters:
    d = cfg.data
    return Characters(split, num_frames=d.num_frames, height=d.height, width=d.width, seed=d.seed)


@dataclasses.dataclass(frozen=True)
class CharacterStep:
    """step -> {"video": uint8 (b, t, h, w, 3), "caption": (b,) str, "reference": uint8 (b, h, w, 3),
    "cross_paired": (b,) bool}; picklable for Grain workers."""

    source: Characters
    batch_size: int
    cross_pair_prob: float
    seed: int

    def __call__(self, step: int) -> dict:
        b = self.batch_size
        items = [self.source[step * b + i] for i in range(b)]
        cross = np.random.default_rng([self.seed, int(step), _REFERENCE_STREAM]).random(b) < self.cross_pair_prob
        return {"video": np.stack([it["video"] for it in items]),
                "caption": np.array([it["caption"] for it in items]),
                "reference": np.stack([it["cross_reference" if c else "reference"] for it, c in zip(items, cross)]),
                "cross_paired": cross}


def pt2v_batches(cfg: Config, tokenizers: Sequence, start_step: int = 0,
                 num_steps: int | None = None) -> Iterator[dict]:
    d = cfg.data
    stop = cfg.train.steps if num_steps is None else start_step + num_steps
    step = CharacterStep(characters_source(cfg), d.batch_size, d.pt2v.cross_pair_prob, d.seed)
    tokenize = Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), d.fps if d.fps_prefix else None)
    return iterate_steps(grain.MapDataset.range(start_step, stop).map(step).map(tokenize), d)


def caption_corpus(cfg: Config, num: int = 5000) -> list[str]:
    """Characters captions (and the empty prompt), for a tokenizer trained from scratch: the training captions'
    distribution, phrased from each spec without rendering its clip."""
    source = characters_source(cfg)
    return [caption(*source.spec(i)[::2]) for i in range(num)] + [""]
