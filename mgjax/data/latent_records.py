"""Precomputed latents in array_record files, as the paper caches TAE latents for the video model's training.

`python -m mgjax.data.latent_records --config CONFIG --out DIR [--num N] [--split train] [--text --workdir RUN]`
encodes Moving Shapes clips with the config's codec (the trained TAE named by codec.checkpoint) and writes
`DIR/latents-00000-of-00001.array_record` plus `DIR/meta.json`. Each record is an .npz (no pickle) of the latent
(float16) and its caption; with `--text`, also every text encoder's output for the caption (`text_i` float16 (m_i, d_i),
`text_mask_i`), and `DIR/null_text.npz` holds the empty prompt's (classifier-free guidance). Training reads them with
`data.source="latents"` and `data.latents_path=DIR`: the loss then skips the codec, and with `text.precomputed` the
text encoders too. `--workdir` is the training run's directory: a tokenizer trained here is saved there for sampling.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np

from mgjax.errors import UserError

RECORDS = "latents-00000-of-00001.array_record"


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


def num_text_encoders(record: dict) -> int:
    return sum(k.startswith("text_mask_") for k in record)


def load_null_text(directory: str | pathlib.Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The empty prompt's precomputed outputs, [(hidden (1, m, d), mask (1, m))] per encoder."""
    path = pathlib.Path(directory) / NULL_TEXT
    if not path.is_file():
        raise UserError(f"{str(path)!r} not found: text.precomputed needs records written with --text")
    with np.load(path, allow_pickle=False) as z:
        n = sum(k.startswith("text_mask_") for k in z.files)
        return [(z[f"text_{i}"].astype(np.float32), z[f"text_mask_{i}"]) for i in range(n)]


class LatentSource:
    """A Grain random-access source over a latent record directory: index -> {"latent", "caption"}."""

    def __init__(self, directory: str | pathlib.Path):
        import grain

        self.directory = pathlib.Path(directory)
        path = self.directory / RECORDS
        if not path.is_file():
            raise UserError(f"no latent records at {str(path)!r}; write them with "
                            f"`python -m mgjax.data.latent_records --config CONFIG --out {directory}`")
        self.meta = json.loads((self.directory / "meta.json").read_text())
        self._source = grain.sources.ArrayRecordDataSource([str(path)])

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        return decode_record(self._source[index])

    def __repr__(self) -> str:
        return f"LatentSource({str(self.directory)!r}, {len(self)} records)"


def write_latent_records(cfg, out: str | pathlib.Path, num: int, split: str = "train", batch: int = 16,
                         text: bool = False, workdir: str | pathlib.Path | None = None) -> dict:
    """Encode `num` clips of the config's data with its codec (and, with `text`, their captions with every text
    encoder) into `out`; returns the meta written."""
    import jax
    from array_record.python.array_record_module import ArrayRecordWriter

    from mgjax.data.t2v_loader import shapes_source
    from mgjax.parallel.mesh import make_mesh
    from mgjax.pipelines.codec import load_codec
    from mgjax.train.t2v_step import pixels_to_unit

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = shapes_source(cfg.data, split)
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        codec = load_codec(cfg.codec)
        encode = jax.jit(lambda v: codec.encode(pixels_to_unit(v)))
        embed = _caption_embedder(cfg, workdir) if text else None
        if embed is not None:
            np.savez(out / NULL_TEXT, **text_arrays(embed([""])))
        tmp = out / (RECORDS + ".tmp")
        writer = ArrayRecordWriter(str(tmp), "group_size:1")
        for start in range(0, num, batch):
            items = [source[i] for i in range(start, min(start + batch, num))]
            videos = np.stack([it["video"] for it in items])
            if len(items) < batch:  # one compiled shape for every chunk
                videos = np.concatenate([videos, np.repeat(videos[-1:], batch - len(items), 0)])
            latents = np.asarray(encode(videos))[:len(items)]
            captions = [str(item["caption"]) for item in items]
            texts = embed(captions) if embed is not None else []
            for j, (latent, caption) in enumerate(zip(latents, captions)):
                writer.write(encode_record(latent, caption, [(h[j], m[j]) for h, m in texts]))
        writer.close()
        tmp.rename(out / RECORDS)  # complete files only
    d = cfg.data
    meta = {"records": num, "split": split, "latent_shape": list(latents.shape[1:]), "codec": cfg.codec.kind,
            "codec_checkpoint": cfg.codec.checkpoint, "frames": d.num_frames, "height": d.height, "width": d.width,
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
    fps = cfg.data.fps if cfg.data.fps_prefix else None

    def embed(captions):
        return embedder.embed([c if fps is None or c == "" else with_fps_prefix(c, fps) for c in captions])

    return embed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num", type=int, default=4096, help="clips to encode")
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    parser.add_argument("--text", action="store_true", help="also store every text encoder's caption outputs")
    parser.add_argument("--workdir", default=None, help="the training run (its tokenizers are read or saved there)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    meta = write_latent_records(load_config(args.config, args.set), args.out, args.num, args.split, text=args.text,
                                workdir=args.workdir)
    print(f"wrote {meta['records']} latents of shape {tuple(meta['latent_shape'])} to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
