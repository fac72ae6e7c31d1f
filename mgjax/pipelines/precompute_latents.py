"""Precompute latents (and, optionally, frozen text encoders' outputs) into latent records, as the paper caches TAE
latents for the video model's training (`python -m mgjax precompute`; record format: mgjax/data/latent_records.py).

The config's data (Moving Shapes clips, or every file of a video folder at its bucket's size) is encoded with its codec
(the trained codec named by codec.checkpoint) into shards of records; `meta.json` is written last. An interrupted run
keeps its complete shards and resumes with the next. With `text`, every text encoder's output for each caption is
stored too, and training with `text.precomputed` then never builds those encoders. `workdir` is the training run's
directory: a tokenizer trained here is saved there for sampling.
"""

from __future__ import annotations

import json
import pathlib

import jax
import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from mgjax.checkpoint.restore import load_codec
from mgjax.data.latent_records import NULL_TEXT, encode_record, shard_files, shard_name, shapes_file, text_arrays
from mgjax.data.t2v_loader import caption_corpus_for, shapes_source
from mgjax.data.video_files import BadSample
from mgjax.data.video_pipeline import BadDataMonitor, DecodeStep, build_index, records_for
from mgjax.models.codec import pixels_to_unit
from mgjax.models.text.embedder import TextEmbedder
from mgjax.models.text.prompts import with_fps_prefix
from mgjax.models.text.stack import load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh


def _samples(cfg, split: str, num: int | None):
    """(count, load(i) -> (uint8 video, caption), bad at start-up, name(i)) for the config's data; a video folder's
    captions are final prompts
    (FPS and camera prefixes included, since the FPS differs per clip)."""
    d = cfg.data
    if d.source in ("video_folder", "tfds"):
        entries, bad = build_index(d)
        step = DecodeStep(d.root, tuple(entries), None, None, 0, d.fps_prefix, d.seed, 0, 1, records_for(d))
        count = len(entries) if num is None else min(num, len(entries))
        return count, (lambda i: step.load(i, 0)), bad, (lambda i: entries[i].item.path)
    source = shapes_source(d, split)
    count = 4096 if num is None else num

    def load(i):
        item = source[i]
        return item["video"], str(item["caption"])

    return count, load, [], str


def write_latent_records(cfg, out: str | pathlib.Path, num: int | None = None, split: str = "train", batch: int = 16,
                         text: bool = False, workdir: str | pathlib.Path | None = None, shard_size: int = 1024) -> dict:
    """Encode the config's data with its codec (and, with `text`, the captions with every text encoder) into shards
    of `shard_size` records; returns the meta written. Resumable: complete shards (renamed into place only when
    written) are kept and skipped when the command runs again. Undecodable files are skipped and counted."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # meta.json marks a complete set; it is rewritten at the end
    count, load, bad, name = _samples(cfg, split, num)
    monitor = BadDataMonitor(cfg.data.max_bad_samples)
    monitor.see(bad)
    num_shards = max(1, -(-count // shard_size))
    shapes: set[tuple[int, ...]] = set()
    resumed = 0
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        codec = load_codec(cfg.codec)
        encode = jax.jit(lambda v: codec.encode(pixels_to_unit(v)))
        embed = _caption_embedder(cfg, workdir) if text else None
        if embed is not None:
            np.savez(out / NULL_TEXT, **text_arrays(embed([""])))
        for k in range(num_shards):
            path = out / shard_name(k, num_shards)
            if path.is_file():
                resumed += 1
                shapes.update(map(tuple, np.load(shapes_file(path)).tolist()))
                continue
            tmp = path.with_name(path.name + ".tmp")
            writer = ArrayRecordWriter(str(tmp), "group_size:1")
            shard_shapes = []
            for start in range(k * shard_size, min((k + 1) * shard_size, count), batch):
                items = []
                for i in range(start, min(start + batch, (k + 1) * shard_size, count)):
                    try:
                        items.append(load(i))
                    except BadSample as e:
                        monitor.see([(name(i), str(e))])
                for video_shape in sorted({v.shape for v, _ in items}):  # one codec call per bucket shape
                    group = [(v, c) for v, c in items if v.shape == video_shape]
                    videos = np.stack([v for v, _ in group])
                    if len(group) < batch:  # one compiled shape per bucket
                        videos = np.concatenate([videos, np.repeat(videos[-1:], batch - len(group), 0)])
                    latents = np.asarray(encode(videos))[:len(group)]
                    captions = [c for _, c in group]
                    texts = embed(captions) if embed is not None else []
                    for j, (latent, caption) in enumerate(zip(latents, captions)):
                        writer.write(encode_record(latent, caption, [(h[j], m[j]) for h, m in texts]))
                        shapes.add(tuple(latent.shape))
                        shard_shapes.append(latent.shape)
            writer.close()
            np.save(shapes_file(path), np.array(shard_shapes, np.int32).reshape(len(shard_shapes), -1))
            tmp.rename(path)  # complete shards only
    d = cfg.data
    meta = {"records": sum(len(np.load(shapes_file(p))) for p in shard_files(out, num_shards)),
            "shards": num_shards,
            "resumed_shards": resumed, "split": split, "latent_shapes": sorted(map(list, shapes)),
            "latent_shape": sorted(map(list, shapes))[0] if len(shapes) == 1 else None, "codec": cfg.codec.kind,
            "codec_checkpoint": cfg.codec.checkpoint, "source": d.source,
            "captions_are_prompts": d.source in ("video_folder", "tfds"), "bad_samples": monitor.state(),
            "text_encoders": [e.name for e in cfg.text.encoders] if text else []}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def _caption_embedder(cfg, workdir):
    """captions -> [(hidden (b, m, d), mask)] per encoder, with the FPS prefix the loader would add."""
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, workdir, corpus=lambda: caption_corpus_for(cfg))
    embedder = TextEmbedder(cfg.text.encoders, tokenizers)
    # a video folder's captions are final prompts already; Moving Shapes captions get the config's FPS prefix
    fps = cfg.data.fps if cfg.data.fps_prefix and cfg.data.source not in ("video_folder", "tfds") else None

    def embed(captions):
        return embedder.embed([c if fps is None or c == "" else with_fps_prefix(c, fps) for c in captions])

    return embed
