"""The Grain pipeline over a folder of videos and images: bucketed batches, decoded in worker processes, sharded by
JAX process, resumable from a saved iterator state, and tolerant of bad files up to a budget.

At start-up every file is probed (threads; PyAV releases the GIL) and assigned a bucket; unreadable and too-short
files are bad from the start. Step s of training is a pure function of (config, s): epoch e = s // L (L batches per
epoch) draws a seeded permutation of each bucket, cuts it into that bucket's batches and shuffles all batches
together; every `image_every`-th step draws from the images' plan instead. A worker decodes its process's slice of the
batch; a file that fails to decode is named in the batch's `bad` list and replaced by the next sample of the same
bucket, so the batch still stacks. In the main process `BadDataMonitor` counts unique bad files, warns with their
names, and stops the run with a clear message past `data.max_bad_samples`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import logging
import pathlib
from typing import Iterator

import grain
import jax
import numpy as np

from mgjax.config.data import DataConfig
from mgjax.config.schema import Config
from mgjax.data.buckets import Bucket, assign, batch_size
from mgjax.data.tfds_videos import TFDSRecords
from mgjax.data.video_files import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, BadSample, MediaInfo, MediaItem, caption_ok,
                                    decode_clip, decode_image, inside_root, probe, scan)
from mgjax.errors import UserError
from mgjax.models.text.prompts import build_prompt

log = logging.getLogger(__name__)


class BadDataBudgetExceeded(UserError):
    """More unique bad files than data.max_bad_samples."""


@dataclasses.dataclass(frozen=True)
class Entry:
    item: MediaItem
    info: MediaInfo
    bucket: Bucket
    length: float  # clip seconds (0 for images)
    record: int = -1  # the example's index in a TFDS dataset (-1: a file under the root)


def fps_range(d: DataConfig) -> tuple[float, float] | None:
    return (d.fps_floor, d.fps_cap) if d.fps_mode == "native" else None


def records_for(d: DataConfig):
    """The TFDS source a `tfds` pipeline reads bytes from (None: files)."""
    if d.source != "tfds":
        return None
    return TFDSRecords(d.root)


def build_index(d: DataConfig) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Probe every listed file (or read a TFDS dataset's stored metadata) -> (usable entries in path order,
    [(path, reason)] for the unusable)."""
    root = pathlib.Path(d.root)
    if d.source == "tfds":
        entries, bad = [], []
        for record, item, info in records_for(d).index():
            try:
                bucket, length = assign(info, d.aspect_sizes, d.duration_buckets, fps_range(d))
                entries.append(Entry(item, info, bucket, length, record))
            except BadSample as e:
                bad.append((item.path, str(e)))
        return sorted(entries, key=lambda e: e.item.path), bad
    items, bad = scan(root, d.manifest or None)

    def check(item: MediaItem) -> Entry | tuple[str, str]:
        try:
            caption_ok(item.caption)
            info = probe(inside_root(root, item.path))
            bucket, length = assign(info, d.aspect_sizes, d.duration_buckets, fps_range(d))
            return Entry(item, info, bucket, length)
        except BadSample as e:
            return item.path, str(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, items))
    entries = [r for r in results if isinstance(r, Entry)]
    bad += [r for r in results if not isinstance(r, Entry)]
    check_usable(d, entries, bad)
    return sorted(entries, key=lambda e: e.item.path), bad


CAPTION_FIX = "put a caption file beside each one (clip.mp4 + clip.txt) or list them in data.manifest=FILE.jsonl"


def check_usable(d: DataConfig, entries: list, bad: list[tuple[str, str]]) -> None:
    """One line for a folder with nothing to train on, naming why; a warning with the count and the fix when files
    have no caption."""
    uncaptioned = [p for p, r in bad if r == "no caption file"]
    if not entries and not bad:
        kinds = ", ".join(s.lstrip(".") for s in VIDEO_SUFFIXES + IMAGE_SUFFIXES)
        raise UserError(f"data.root {d.root!r} holds no videos or images ({kinds}); point data.root at your folder")
    if not entries:
        fix = f"; {CAPTION_FIX}" if uncaptioned else ""
        raise UserError(f"no usable samples under {d.root!r}: {describe_bad(bad)}{fix}")
    if uncaptioned:
        log.warning("%d of %d files under %s have no caption and are left out (e.g. %s); %s", len(uncaptioned),
                    len(uncaptioned) + len(entries), d.root, uncaptioned[0], CAPTION_FIX)


def describe_bad(bad: list[tuple[str, str]]) -> str:
    """`3 no caption file (a.mp4, b.mp4, ...), 1 undecodable video (c.mp4)`: counts per reason, a few names each."""
    by_reason: dict[str, list[str]] = {}
    for path, reason in bad:
        by_reason.setdefault(reason.split(":")[0], []).append(path)
    return ", ".join(f"{len(ps)} {r} ({', '.join(ps[:2])}{', ...' if len(ps) > 2 else ''})"
                     for r, ps in by_reason.items())


@dataclasses.dataclass(frozen=True)
class Plan:
    """The batches of one kind (videos or images): per bucket, its entry ids and batch size."""

    buckets: tuple[tuple[Bucket, tuple[int, ...], int], ...]  # (bucket, entry ids, batch size)
    seed: int

    @functools.cached_property
    def batches_per_epoch(self) -> int:
        return sum(len(ids) // bs for _, ids, bs in self.buckets)

    @functools.cached_property
    def _epochs(self) -> dict:  # per instance (and per worker process); hashing the plan per step would cost O(n)
        return {}

    def epoch(self, e: int) -> tuple[tuple[int, tuple[int, ...], int], ...]:
        """[(bucket index, permuted ids, batch start)] for every batch of epoch e, in a seeded order."""
        if e not in self._epochs:
            if len(self._epochs) >= 2:
                self._epochs.clear()
            self._epochs[e] = self._make_epoch(e)
        return self._epochs[e]

    def _make_epoch(self, e: int) -> tuple[tuple[int, tuple[int, ...], int], ...]:
        batches = []
        for b, (_, ids, bs) in enumerate(self.buckets):
            perm = tuple(np.random.default_rng([self.seed, e, b]).permutation(np.array(ids, np.int64)).tolist())
            batches += [(b, perm, i * bs) for i in range(len(ids) // bs)]
        order = np.random.default_rng([self.seed, e, 1_000_003]).permutation(len(batches))
        return tuple(batches[i] for i in order)


def make_plan(entries: list[Entry], images: bool, d: DataConfig, factors, patch, multiple: int) -> Plan | None:
    groups: dict[Bucket, list[int]] = collections.defaultdict(list)
    for i, e in enumerate(entries):
        if e.info.is_image == images:
            groups[e.bucket].append(i)
    buckets = []
    for bucket in sorted(groups, key=lambda b: b.key):
        bs = batch_size(bucket, d.token_budget, factors, patch, multiple) if d.token_budget else d.batch_size
        if bs % multiple:
            raise UserError(f"data.batch_size ({bs}) must be a multiple of the JAX process count ({multiple})")
        if len(groups[bucket]) < bs:
            log.warning("bucket %s has %d samples, fewer than its batch of %d: unused", bucket.key,
                        len(groups[bucket]), bs)
        buckets.append((bucket, tuple(groups[bucket]), bs))
    plan = Plan(tuple(buckets), d.seed + (1 if images else 0))
    return plan if plan.batches_per_epoch else None


@dataclasses.dataclass(frozen=True)
class DecodeStep:
    """step -> this process's slice of the step's batch: {"video": uint8 (b, t, h, w, 3), "caption": (b,) str,
    "bad": (k, 2) str [path, reason]}. Runs in Grain worker processes (picklable, no JAX)."""

    root: str
    entries: tuple[Entry, ...]
    videos: Plan | None
    images: Plan | None
    image_every: int
    fps_prefix: bool
    seed: int
    process_index: int
    process_count: int
    records: object = None  # a TFDSRecords source: bytes come from its examples instead of files

    def plan_for(self, step: int) -> tuple[Plan, int]:
        k = self.image_every
        if self.images is not None and (self.videos is None or (k and step % k == k - 1)):
            return self.images, (step // k if self.videos is not None else step)
        return self.videos, (step - step // k if k and self.images is not None else step)

    def __call__(self, step: int) -> dict:
        plan, index = self.plan_for(int(step))
        epoch, j = divmod(index, plan.batches_per_epoch)
        b, perm, start = plan.epoch(epoch)[j]
        bucket, _, bs = plan.buckets[b]
        per = bs // self.process_count
        wanted = perm[start + self.process_index * per: start + (self.process_index + 1) * per]
        n = len(perm)
        spare = (perm[(start + bs + k) % n] for k in range(n - bs))  # replacements, in the epoch's order
        frames, captions, bad = [], [], []
        for i in wanted:
            while True:
                try:
                    video, caption = self.load(i, epoch)
                    break
                except BadSample as e:
                    bad.append((self.entries[i].item.path, str(e)))
                    i = next(spare, None)
                    if i is None:
                        raise UserError(f"bucket {bucket.key}: no decodable sample left to fill a batch") from None
            frames.append(video)
            captions.append(caption)
        return {"video": np.stack(frames), "caption": np.array(captions),
                "bad": np.array(bad, dtype=str).reshape(-1, 2)}

    def load(self, i: int, epoch: int) -> tuple[np.ndarray, str]:
        e = self.entries[i]
        path = pathlib.Path(self.root) / e.item.path
        data = None if self.records is None else self.records[e.record]["data"]
        b = e.bucket
        if e.info.is_image:
            return decode_image(path, b.height, b.width, data), build_prompt(e.item.caption,
                                                                       camera_motion=e.item.camera_motion or None)
        rng = np.random.default_rng([self.seed, epoch, i])
        start = float(rng.uniform(0.0, max(e.info.duration - e.length, 0.0)))
        fps = b.frames / e.length
        video = decode_clip(path, start, b.frames, fps, b.height, b.width, data)
        prompt = build_prompt(e.item.caption, fps=round(fps) if self.fps_prefix else None,
                              camera_motion=e.item.camera_motion or None)
        return video, prompt


class BadDataMonitor:
    """Counts unique bad files (start-up and decode), warns naming the new ones, and stops past the budget."""

    def __init__(self, budget: int, seen: list[str] | None = None):
        self.budget = budget
        self.bad: dict[str, str] = dict.fromkeys(seen or [], "")

    def see(self, bad: list[tuple[str, str]] | np.ndarray) -> None:
        new = [(str(p), str(r)) for p, r in bad if str(p) not in self.bad]
        if not new:
            return
        for p, r in new:
            self.bad[p] = r
        shown = "; ".join(f"{p}: {r}" for p, r in new[:20]) + (f"; ... {len(new) - 20} more" if len(new) > 20 else "")
        log.warning("skipped %d bad sample(s) (%d so far): %s", len(new), len(self.bad), shown)
        if len(self.bad) > self.budget:
            raise BadDataBudgetExceeded(
                f"{len(self.bad)} bad samples exceed data.max_bad_samples={self.budget} (latest: {shown}); fix or "
                f"remove them, or raise the budget. Checkpoints already written are kept.")

    def state(self) -> list[str]:
        return sorted(self.bad)


class MonitoredBatches(Iterator[dict]):
    """Batches `step_fn(s)` for steps start .. stop - 1 through Grain (in `num_workers` processes when > 0), each
    carrying a `bad` list of (file, reason) that a `BadDataMonitor` counts. Step s's batch is a pure function of s,
    so the state is the next step plus the bad files seen so far."""

    def _start(self, step_fn, start_step: int, stop_step: int, num_workers: int, monitor: BadDataMonitor,
               bad_at_start: list[tuple[str, str]]) -> None:
        ds = grain.MapDataset.range(start_step, max(stop_step, start_step)).map(step_fn).to_iter_dataset()
        if num_workers > 0:
            ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
        self._it, self.step, self.monitor = iter(ds), start_step, monitor
        self.monitor.see(bad_at_start)

    def __next__(self) -> dict:
        batch = next(self._it)
        self.step += 1
        self.monitor.see(batch.pop("bad"))
        return batch

    def get_state(self) -> dict:
        return {"step": self.step, "bad": self.monitor.state()}


class VideoFolderBatches(MonitoredBatches):
    """The iterator training consumes: {"video", "caption"} per step, bad files counted. Because step s's batch is a
    pure function of s, the iterator's state is its next step plus the bad files seen so far: `get_state()` goes into
    the checkpoint, and a pipeline built with that state continues the exact stream (any number of workers). Each
    JAX process reads its own slice of every batch (`process_local`)."""

    process_local = True

    def __init__(self, cfg: Config, start_step: int = 0, num_steps: int | None = None, state: dict | None = None):
        d = cfg.data
        entries, bad = build_index(d)
        if state is not None:
            start_step = int(state["step"])
        monitor = BadDataMonitor(d.max_bad_samples, state.get("bad") if state else None)
        multiple = jax.process_count()  # every process reads an equal slice of each batch
        # token budgets count backbone tokens (a text-to-video model's patches of codec latents); a model without
        # patches (the TAE) counts latent pixels
        patch = getattr(cfg.model, "patch_size", (1, 1, 1))
        plans = [make_plan(entries, images, d, cfg.codec.factors, patch, multiple)
                 for images in (False, True)]
        if plans[0] is None and plans[1] is None:
            raise UserError(f"no usable samples under {d.root!r} ({len(entries)} usable files, {len(bad)} bad)")
        log.info("video folder %s: %d usable files, %d bad at start-up", d.root, len(entries), len(bad))
        self.step_fn = DecodeStep(d.root, tuple(entries), plans[0], plans[1], d.image_every if plans[0] else 0,
                                  d.fps_prefix, d.seed, jax.process_index(), jax.process_count(), records_for(d))
        stop = cfg.train.steps if num_steps is None else start_step + num_steps
        self._start(self.step_fn, start_step, stop, d.num_workers, monitor, bad)

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close:
            close()
