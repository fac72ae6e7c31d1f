"""Movie Gen Edit training batches (paper §5.2), by stage, as a Grain pipeline indexed by train step: in each run of
`edit_every + 1` steps, `edit_every` batches of edits and one of text-to-video clips (a black input video, task 0).

Stage I: image edits (one-frame videos). Stage II: the same edits animated by one random affine path applied to input
and output alike, and instruction-guided segmentation of videos (`segment_prob` of the samples). Stage III: the
backtranslated records `python -m mgjax edit-backtranslate` writes (input: the stage II model's edit of a clip;
instruction: the backward one; target: the clip), read by `BacktranslatedEdits`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Iterator, Sequence

import grain
import numpy as np

from mgjax.config.schema import Config
from mgjax.data.shape_edits import EDIT_TYPES, SEGMENT, TASKS, AnimatedEdits, ShapeEdits
from mgjax.data.t2v_loader import Tokenize, iterate_steps, shapes_source
from mgjax.errors import UserError
from mgjax.models.text.prompts import with_fps_prefix

BACKTRANSLATED_KEYS = ("source", "video", "caption", "task")


def edit_source(cfg: Config, split: str = "train", stage: int | None = None):
    """The edit samples of a stage: random access to {"source", "video", "caption", "task"}."""
    d, e = cfg.data, cfg.data.edit
    stage = e.stage if stage is None else stage
    kw = dict(height=d.height, width=d.width, seed=d.seed, two_object_prob=e.two_object_prob,
              start_spread=d.shapes.start_spread)
    if stage == 1:
        return ShapeEdits(split, num_frames=1, types=EDIT_TYPES, **kw)
    if stage == 2:
        animated = AnimatedEdits(ShapeEdits(split, num_frames=1, types=EDIT_TYPES, **kw), d.num_frames,
                                 e.still_camera_prob)
        segments = ShapeEdits(split, num_frames=d.num_frames, types=(SEGMENT,), **kw)
        return Mixture(animated, segments, e.segment_prob, d.seed)
    if not e.backtranslated:
        raise UserError("stage 3 trains on backtranslated edits: set data.edit.backtranslated to the file "
                        "`python -m mgjax edit-backtranslate --workdir STAGE2_RUN --out FILE` writes")
    return BacktranslatedEdits(e.backtranslated)


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Sample i from `second` with probability `p` (a seeded draw per index), else from `first`."""

    first: object
    second: object
    p: float
    seed: int

    def __len__(self) -> int:
        return min(len(self.first), len(self.second))

    def __getitem__(self, index: int) -> dict:
        take_second = np.random.default_rng([self.seed, index, 13]).random() < self.p
        return (self.second if take_second else self.first)[index]


class BacktranslatedEdits:
    """Stage III records: an .npz with uint8 "source" and "video" (n t h w 3), "caption" (n,) and "task" (n,), and a
    JSON "meta" string (what wrote them). Index i wraps around the n records."""

    def __init__(self, path: str | pathlib.Path):
        path = pathlib.Path(path)
        if not path.is_file():
            raise UserError(f"data.edit.backtranslated={path} does not exist; write it with `python -m mgjax "
                            f"edit-backtranslate --workdir STAGE2_RUN --out {path}`")
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in BACKTRANSLATED_KEYS if k not in f]
            if missing:
                raise UserError(f"{path} is not a backtranslated edit file (it lacks {', '.join(missing)})")
            self.records = {k: f[k] for k in BACKTRANSLATED_KEYS}
            self.meta = json.loads(str(f["meta"])) if "meta" in f else {}

    def __len__(self) -> int:
        return len(self.records["task"])

    def __getitem__(self, index: int) -> dict:
        i = int(index) % len(self)
        return {k: v[i] for k, v in self.records.items()}


def write_backtranslated(path: str | pathlib.Path, records: dict[str, np.ndarray], meta: dict) -> None:
    """Atomically: a temporary file renamed into place, so an interrupted run leaves no half-written records."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **records, meta=np.array(json.dumps(meta)))
    tmp.replace(path)


@dataclasses.dataclass(frozen=True)
class StepToEditBatch:
    """step -> {"video" (target), "source", "task", "caption"}; picklable for Grain workers."""

    edits: object
    videos: grain.MapDataset  # batched text-to-video clips
    batch_size: int
    edit_every: int
    fps: int | None

    def __call__(self, step: int) -> dict:
        group, slot = divmod(int(step), self.edit_every + 1)
        if slot == self.edit_every:
            b = self.videos[group]
            captions = [str(c) for c in b["caption"]]
            if self.fps is not None:
                captions = [with_fps_prefix(c, self.fps) for c in captions]
            return {"video": b["video"], "source": np.zeros_like(b["video"]),
                    "task": np.full((len(captions),), TASKS.index("t2v"), np.int32), "caption": np.array(captions)}
        start = (group * self.edit_every + slot) * self.batch_size
        items = [self.edits[start + i] for i in range(self.batch_size)]
        return {"video": np.stack([x["video"] for x in items]), "source": np.stack([x["source"] for x in items]),
                "task": np.array([x["task"] for x in items], np.int32),
                "caption": np.array([str(x["caption"]) for x in items])}


def edit_batches(cfg: Config, tokenizers: Sequence, start_step: int = 0,
                 num_steps: int | None = None) -> Iterator[dict]:
    d = cfg.data
    videos = grain.MapDataset.source(shapes_source(d)).batch(d.batch_size, drop_remainder=True)
    fn = StepToEditBatch(edit_source(cfg), videos, d.batch_size, d.edit.edit_every, d.fps if d.fps_prefix else None)
    stop = cfg.train.steps if num_steps is None else start_step + num_steps
    ds = grain.MapDataset.range(start_step, stop).map(fn)
    return iterate_steps(ds.map(Tokenize(tuple(cfg.text.encoders), tuple(tokenizers), None)), d)
