"""Precomputed latents in array_record files, as the paper caches TAE latents for the video model's training: the
record format and the reader (the writer is `mgjax/pipelines/precompute_latents.py`).

A directory holds `latents-KKKKK-of-NNNNN.array_record` shards, each with `.shapes.npy` beside it (every record's
latent shape), plus `meta.json`, written last: it marks a complete set. Each record is an .npz (no pickle) of the
latent (float16) and its caption; records written with `--text` also hold every text encoder's output for the
caption (`text_i` float16 (m_i, d_i), `text_mask_i`), and `null_text.npz` holds the empty prompt's (classifier-free
guidance). Training reads them with `data.source="latents"` and `data.latents_path=DIR`.
"""

from __future__ import annotations

import io
import json
import pathlib

import grain
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
                        f"`python -m mgjax precompute --config CONFIG --out {directory}`")
    return json.loads(meta.read_text())


def shapes_file(shard: pathlib.Path) -> pathlib.Path:
    """Each record's latent shape, beside its shard (written before the shard is renamed into place)."""
    return shard.with_name(shard.name.replace(".array_record", ".shapes.npy"))


class LatentSource:
    """A Grain random-access source over a latent record directory (all its shards): index -> {"latent", "caption"}
    (+ "text_i", "text_mask_i" when written with --text)."""

    def __init__(self, directory: str | pathlib.Path):
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
