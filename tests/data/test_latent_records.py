"""Precomputed latents: records round-trip, the source reads them, and the video model trains from them."""

import dataclasses

import numpy as np
import pytest

from conftest import CONFIGS, micro_config
from mgjax.config import load_config
from mgjax.data.latent_records import LatentSource, decode_record, encode_record, write_latent_records
from mgjax.data.t2v_loader import t2v_batches
from mgjax.errors import UserError
from mgjax.models.text.stack import load_or_train_tokenizers
from mgjax.train.loop import train


def test_record_round_trip_without_pickle():
    latent = np.random.default_rng(0).normal(size=(1, 2, 2, 3)).astype(np.float32)
    record = decode_record(encode_record(latent, "a red circle moving left"))
    np.testing.assert_allclose(record["latent"], latent, atol=1e-2)  # stored as float16
    assert record["caption"] == "a red circle moving left"


def test_write_then_train_the_video_model_on_latents(tmp_path, devices):
    cfg = micro_config(steps=2, log_every=1, checkpoint_every=2)
    meta = write_latent_records(cfg, tmp_path / "latents", num=20, batch=8)
    assert meta["latent_shape"] == [8, 4, 4, 48] and meta["records"] == 20
    source = LatentSource(tmp_path / "latents")
    assert len(source) == 20 and source[3]["latent"].shape == (8, 4, 4, 48)
    latent_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="latents",
                                                                   latents_path=str(tmp_path / "latents")))
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, tmp_path / "run", corpus=lambda: [source[0]["caption"]])
    batches = list(t2v_batches(latent_cfg, tokenizers, num_steps=3))
    assert "video" not in batches[0] and batches[0]["latent"].shape == (8, 8, 4, 4, 48)
    np.testing.assert_allclose(batches[2]["latent"][:4], np.stack([source[i]["latent"] for i in range(16, 20)]))
    np.testing.assert_allclose(batches[2]["latent"][4:], np.stack([source[i]["latent"] for i in range(0, 4)]))
    metrics = train(latent_cfg, tmp_path / "run", devices=devices[:1], verbose=False)
    assert np.isfinite(metrics["loss"])


def test_latents_source_needs_a_path():
    with pytest.raises(UserError, match="latents_path"):
        load_config(CONFIGS / "shapes_t2v_tiny.py", ["data.source=latents"])
    with pytest.raises(UserError, match="no latent records"):
        LatentSource("/nonexistent/latents")
