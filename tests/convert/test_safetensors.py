import json

import ml_dtypes
import numpy as np
import pytest

from mgjax.convert.safetensors import INDEX, Checkpoint, SafetensorsFile, save_file
from mgjax.errors import UserError


def test_round_trip_every_dtype_including_bf16(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.normal(size=(3, 5)).astype(np.float32),
               "b": rng.normal(size=(7,)).astype(ml_dtypes.bfloat16),
               "c": rng.normal(size=(2, 2, 2)).astype(np.float16), "d": np.arange(6, dtype=np.int64).reshape(2, 3),
               "e": np.array([True, False])}
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt"})
    f = SafetensorsFile(tmp_path / "m.safetensors")
    assert set(f) == set(tensors) and f.shape("a.weight") == (3, 5)
    for k, v in tensors.items():
        assert f[k].dtype == v.dtype
        np.testing.assert_array_equal(f[k], v)
    # the header is standard safetensors: 8-byte little-endian length, JSON, data aligned to 8 bytes
    raw = (tmp_path / "m.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and json.loads(raw[8:8 + n])["b"]["dtype"] == "BF16"


def test_sharded_directory_and_single_file_directory(tmp_path):
    save_file({"x": np.ones(2, np.float32)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"y": np.zeros(3, np.float32)}, tmp_path / "model-00002-of-00002.safetensors")
    (tmp_path / INDEX).write_text(json.dumps({"weight_map": {"x": "model-00001-of-00002.safetensors",
                                                             "y": "model-00002-of-00002.safetensors"}}))
    ckpt = Checkpoint(tmp_path)
    assert sorted(ckpt) == ["x", "y"] and ckpt.shape("y") == (3,) and ckpt["x"].sum() == 2
    single = tmp_path / "single"
    single.mkdir()
    save_file({"z": np.ones(1, np.float32)}, single / "model.safetensors")
    assert list(Checkpoint(single)) == ["z"]


def test_pickle_missing_and_garbage_files_fail_with_one_line(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04...")
    with pytest.raises(UserError, match="never loads pickle"):
        Checkpoint(tmp_path / "pytorch_model.bin")
    with pytest.raises(UserError, match="not found"):
        Checkpoint(tmp_path / "nothing.safetensors")
    with pytest.raises(UserError, match="no model.safetensors"):
        Checkpoint(tmp_path)  # a directory holding only a .bin
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(UserError, match="not a safetensors file"):
        Checkpoint(tmp_path / "bad.safetensors")
