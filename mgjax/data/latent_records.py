"""Precomputed latents in array_record files, as the paper caches TAE latents for the video model's training.

`python -m mgjax.data.latent_records --config CONFIG --out DIR [--num N] [--shard-size N] [--text --workdir RUN]`
encodes the config's data (Moving Shapes clips, or every file of a video folder at its bucket's size) with its codec
(the trained TAE named by codec.checkpoint) and writes `DIR/latents-KKKKK-of-NNNNN.array_record` shards plus
`DIR/meta.json` (written last: it marks a complete set). An interrupted run keeps its complete shards and resumes with
the next. Each record is an .npz (no pickle) of the latent (float16) and its caption; with `--text`, also every
text encoder's output for the caption (`text_i` float16 (m_i, d_i), `text_mask_i`), and `DIR/null_text.npz` holds
the empty prompt's (classifier-free guidance). Training reads them with `data.source="latents"` and
`data.latents_path=DIR`: the loss then skips the codec, and with `text.precomputed` the text encoders too.
`--workdir` is the training run's directory: a tokenizer trained here is saved there for sampling.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np

from mgjax.errors import UserError



NULL_TEXT = "null_text.npz"


def text_arrays(text: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """[(hidden (m, d), mask (m,))] per encoder -> {"text_i": float16, "text_mask_i": bool}."""
    out = {}
    for i, (hidden, mask) in enumerate(text):
        out[f"text_{i}"], out[f"text_mask_{i}"] = hidden.astype(np.float16), mask.astype(bool)
    return out


def encode_record(latent: np.ndarray, caption: str, text: list[tuple[np.ndarray, np.ndarray]] | None = None) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, latent=latent.astype(np.float16), caption=np.array(caption), **text_arrays(text or []))
    return buf.getvalue()


def decode_record(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        out = {"latent": z["latent"].astype(np.float32), "caption": str(z["caption"])}
        for k in z.files:
            if k.startswith("text_"):
                out[k] = z[k].astype(np.float32) if z[k].dtype == np.float16 else z[k]
        return out


def load_null_text(directory: str | pathlib.Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The empty prompt's precomputed outputs, [(hidden (1, m, d), mask (1, m))] per encoder."""
    path = pathlib.Path(directory) / NULL_TEXT
    if not path.is_file():
        raise UserError(f"{str(path)!r} not found: text.precomputed needs records written with --text")
    with np.load(path, allow_pickle=False) as z:
        n = sum(k.startswith("text_mask_") for k in z.files)
        return [(z[f"text_{i}"].astype(np.float32), z[f"text_mask_{i}"]) for i in range(n)]


def shard_name(k: int, n: int) -> str:
    return f"latents-{k:05d}-of-{n:05d}.array_record"


def shard_files(directory: pathlib.Path, num_shards: int) -> list[pathlib.Path]:
    """The shards of one set of `num_shards` (a directory may still hold shards of an earlier run with another
    count; they are not part of this set)."""
    return sorted(directory.glob(f"latents-*-of-{num_shards:05d}.array_record"))


def read_meta(directory: str | pathlib.Path) -> dict:
    """meta.json of a complete record set (written last, so its presence marks completeness)."""
    meta = pathlib.Path(directory) / "meta.json"
    if not meta.is_file():
        raise UserError(f"no latent records at {str(directory)!r} (no complete meta.json); write them with "
                        f"`python -m mgjax.data.latent_records --config CONFIG --out {directory}`")
    return json.loads(meta.read_text())


def shapes_file(shard: pathlib.Path) -> pathlib.Path:
    """Each record's latent shape, beside its shard (written before the shard is renamed into place)."""
    return shard.with_name(shard.name.replace(".array_record", ".shapes.npy"))


class LatentSource:
    """A Grain random-access source over a latent record directory (all its shards): index -> {"latent", "caption"}
    (+ "text_i", "text_mask_i" when written with --text)."""

    def __init__(self, directory: str | pathlib.Path):
        import grain

        self.directory = pathlib.Path(directory)
        self.meta = read_meta(directory)
        self.shards = shard_files(self.directory, self.meta["shards"])
        self._source = grain.sources.ArrayRecordDataSource([str(p) for p in self.shards])

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        return decode_record(self._source[index])

    def record_shapes(self) -> np.ndarray:
        """(records, latent ndim) int32: every record's latent shape, in index order."""
        return np.concatenate([np.load(shapes_file(p)) for p in self.shards])

    def __repr__(self) -> str:
        return f"LatentSource({str(self.directory)!r}, {len(self)} records)"


def _samples(cfg, split: str, num: int | None):
    """(count, load(i) -> (uint8 video, caption), bad at start-up, name(i)) for the config's data; a video folder's
    captions are final prompts
    (FPS and camera prefixes included, since the FPS differs per clip)."""
    d = cfg.data
    if d.source in ("video_folder", "tfds"):
        from mgjax.data.video_pipeline import DecodeStep, build_index, records_for

        entries, bad = build_index(d)
        step = DecodeStep(d.root, tuple(entries), None, None, 0, d.fps_prefix, d.seed, 0, 1, records_for(d))
        count = len(entries) if num is None else min(num, len(entries))
        return count, (lambda i: step.load(i, 0)), bad, (lambda i: entries[i].item.path)
    from mgjax.data.t2v_loader import shapes_source

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
    import jax
    from array_record.python.array_record_module import ArrayRecordWriter

    from mgjax.data.video_files import BadSample
    from mgjax.data.video_pipeline import BadDataMonitor
    from mgjax.parallel.mesh import make_mesh
    from mgjax.pipelines.codec import load_codec
    from mgjax.train.t2v_step import pixels_to_unit

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
    from mgjax.data.t2v_loader import caption_corpus_for
    from mgjax.models.text.embedder import TextEmbedder
    from mgjax.models.text.prompts import with_fps_prefix
    from mgjax.models.text.stack import load_or_train_tokenizers

    tokenizers = load_or_train_tokenizers(cfg.text.encoders, workdir, corpus=lambda: caption_corpus_for(cfg))
    embedder = TextEmbedder(cfg.text.encoders, tokenizers)
    # a video folder's captions are final prompts already; Moving Shapes captions get the config's FPS prefix
    fps = cfg.data.fps if cfg.data.fps_prefix and cfg.data.source not in ("video_folder", "tfds") else None

    def embed(captions):
        return embedder.embed([c if fps is None or c == "" else with_fps_prefix(c, fps) for c in captions])

    return embed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num", type=int, default=None, help="clips to encode (default: a video folder's every file; "
                        "4096 Moving Shapes clips)")
    parser.add_argument("--shard-size", type=int, default=1024, help="records per array_record shard")
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    parser.add_argument("--text", action="store_true", help="also store every text encoder's caption outputs")
    parser.add_argument("--workdir", default=None, help="the training run (its tokenizers are read or saved there)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    meta = write_latent_records(load_config(args.config, args.set), args.out, args.num, args.split, text=args.text,
                                workdir=args.workdir, shard_size=args.shard_size)
    print(f"wrote {meta['records']} latents of shapes {meta['latent_shapes']} in {meta['shards']} shards to "
          f"{args.out} ({meta['resumed_shards']} shards kept from an interrupted run, {len(meta['bad_samples'])} bad "
          f"samples skipped)", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
