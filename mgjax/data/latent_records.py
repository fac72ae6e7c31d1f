"""Precomputed latents in array_record files, as the paper caches TAE latents for the video model's training.

`python -m mgjax.data.latent_records --config CONFIG --out DIR [--num N] [--split train]` encodes Moving Shapes clips
with the config's codec (the trained TAE named by codec.checkpoint) and writes `DIR/latents-00000-of-00001.array_record`
plus `DIR/meta.json`. Each record is an .npz (no pickle) of the latent (float16) and its caption. Training reads them
with `data.source="latents"` and `data.latents_path=DIR`: the loss then skips the codec.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np

from mgjax.errors import UserError

RECORDS = "latents-00000-of-00001.array_record"


def encode_record(latent: np.ndarray, caption: str) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, latent=latent.astype(np.float16), caption=np.array(caption))
    return buf.getvalue()


def decode_record(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {"latent": z["latent"].astype(np.float32), "caption": str(z["caption"])}


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


def write_latent_records(cfg, out: str | pathlib.Path, num: int, split: str = "train", batch: int = 16) -> dict:
    """Encode `num` clips of the config's data with its codec into `out`; returns the meta written."""
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
        tmp = out / (RECORDS + ".tmp")
        writer = ArrayRecordWriter(str(tmp), "group_size:1")
        for start in range(0, num, batch):
            items = [source[i] for i in range(start, min(start + batch, num))]
            videos = np.stack([it["video"] for it in items])
            if len(items) < batch:  # one compiled shape for every chunk
                videos = np.concatenate([videos, np.repeat(videos[-1:], batch - len(items), 0)])
            latents = np.asarray(encode(videos))[:len(items)]
            for latent, item in zip(latents, items):
                writer.write(encode_record(latent, str(item["caption"])))
        writer.close()
        tmp.rename(out / RECORDS)  # complete files only
    d = cfg.data
    meta = {"records": num, "split": split, "latent_shape": list(latents.shape[1:]), "codec": cfg.codec.kind,
            "codec_checkpoint": cfg.codec.checkpoint, "frames": d.num_frames, "height": d.height, "width": d.width}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num", type=int, default=4096, help="clips to encode")
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    meta = write_latent_records(load_config(args.config, args.set), args.out, args.num, args.split)
    print(f"wrote {meta['records']} latents of shape {tuple(meta['latent_shape'])} to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    from mgjax.cli import run_main, set_global_flags

    set_global_flags()
    run_main(main, sys.argv[1:])
