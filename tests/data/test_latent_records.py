"""Precomputed latents: records round-trip, the source reads them, and the video model trains from them."""

import dataclasses

import numpy as np
import pytest

from conftest import CONFIGS, micro_config
from mgjax.train.tasks import load_config
from mgjax.data.latent_records import LatentSource, decode_record, encode_record
from mgjax.pipelines.precompute_latents import write_latent_records
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


def test_precomputed_text_embeddings_train_and_sample(tmp_path, devices):
    """`--text` stores each caption's frozen-encoder outputs; with text.precomputed training reads them (and never
    builds the encoder), and sampling recomputes them outside the model with the same weights."""
    import jax
    from flax import nnx

    from mgjax.data.latent_records import load_null_text
    from mgjax.models.t2v import TextToVideo
    from mgjax.models.text.embedder import TextEmbedder
    from mgjax.parallel.mesh import make_mesh
    from mgjax.pipelines.t2v import T2VSampler

    base = micro_config(steps=2, log_every=1, checkpoint_every=2)
    frozen = dataclasses.replace(base.text.encoders[0], trainable=False)
    cfg = dataclasses.replace(base, text=dataclasses.replace(base.text, encoders=(frozen,)))
    run = tmp_path / "run"
    meta = write_latent_records(cfg, tmp_path / "latents", num=16, batch=8, text=True, workdir=run)
    assert meta["text_encoders"] == ["ul2"] and (run / "tokenizer_ul2.model").is_file()
    record = LatentSource(tmp_path / "latents")[5]
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, run)
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        expect = TextEmbedder(cfg.text.encoders, tokenizers).embed([record["caption"]])[0]
    assert record["text_0"].shape == (frozen.max_length, frozen.width)
    np.testing.assert_array_equal(record["text_mask_0"], expect[1][0])
    np.testing.assert_allclose(record["text_0"], expect[0][0], atol=2e-2)  # stored as float16
    null_hidden, null_mask = load_null_text(tmp_path / "latents")[0]
    assert null_hidden.shape == (1, frozen.max_length, frozen.width) and null_mask.sum() == 1  # just EOS

    pre = dataclasses.replace(cfg, text=dataclasses.replace(cfg.text, precomputed=True),
                              data=dataclasses.replace(cfg.data, source="latents",
                                                       latents_path=str(tmp_path / "latents")))
    batch = next(t2v_batches(pre, tokenizers, num_steps=1))
    assert batch["text"][0][0].shape == (8, frozen.max_length, frozen.width)
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        assert TextToVideo(pre, rngs=nnx.Rngs(0)).text_encoders[0] is None
    metrics = train(pre, run, devices=devices[:1], verbose=False)
    assert np.isfinite(metrics["loss"])
    videos = T2VSampler(pre, run, devices=devices[:1]).sample(["a red circle moving left"], num_steps=2,
                                                              progress=False)
    assert videos.shape == (1, 8, 16, 16, 3) and videos.dtype == np.uint8
