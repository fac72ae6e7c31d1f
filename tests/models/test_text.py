import collections
import dataclasses
import logging

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from conftest import micro_config
from mgjax.config import MeshConfig
from mgjax.data.moving_shapes import caption_corpus
from mgjax.models.text.stack import build_encoder, encode_prompts, load_or_train_tokenizers, tokenizer_file
from mgjax.models.text.t5 import relative_position_bucket
from mgjax.models.text.tokenizer import EOS_ID, PAD_ID, SentencePieceTokenizer
from mgjax.parallel.mesh import make_mesh


def test_tokenizer_training_is_deterministic_and_round_trips(tmp_path):
    corpus = caption_corpus(num=500)
    a = SentencePieceTokenizer.train(corpus, 256, "bpe")
    b = SentencePieceTokenizer.train(corpus, 256, "bpe")
    assert a.model_proto == b.model_proto
    a.save(tmp_path / "tok.model")
    c = SentencePieceTokenizer.load(tmp_path / "tok.model")
    batch = c.encode(["a red circle moving left", ""], max_length=12)
    assert batch.ids.shape == (2, 12) and batch.ids.dtype == np.int32
    assert batch.ids[1, 0] == EOS_ID and batch.mask[1].sum() == 1  # the empty prompt is just EOS
    n = batch.mask[0].sum()
    assert batch.ids[0, n - 1] == EOS_ID and (batch.ids[0, n:] == PAD_ID).all()
    assert c.processor.decode(batch.ids[0, : n - 1].tolist()) == "a red circle moving left"


def test_truncation_is_counted_and_keeps_eos():
    tok = SentencePieceTokenizer.train(caption_corpus(num=500), 256, "bpe")
    batch = tok.encode(["a red circle moving left " * 10, "a red circle"], max_length=8)
    assert batch.num_truncated == 1 and batch.mask[0].all() and batch.ids[0, -1] == EOS_ID


def test_a_loaders_truncations_are_reported_at_powers_of_ten(caplog):
    """A training loader passes its running count: one line at the 1st, 10th, 100th... truncated caption, not one
    line per batch."""
    encoder = dataclasses.replace(micro_config().text.encoders[0], max_length=4)
    tok = SentencePieceTokenizer.train(caption_corpus(num=500), 256, "bpe")
    running = collections.Counter()
    with caplog.at_level(logging.WARNING):
        for _ in range(12):
            encode_prompts(["a red circle moving left " * 3], [encoder], [tok], running)
    assert running[encoder.name] == 12
    reports = [r.message for r in caplog.records if "truncated" in r.message]
    assert len(reports) == 2 and reports[0].startswith("1 captions") and reports[1].startswith("10 captions")


def test_tokenizers_are_saved_with_the_run_and_reloaded(tmp_path):
    cfg = micro_config()
    toks = load_or_train_tokenizers(cfg.text.encoders, tmp_path, corpus=lambda: caption_corpus(num=300))
    assert tokenizer_file(tmp_path, cfg.text.encoders[0]).is_file()
    again = load_or_train_tokenizers(cfg.text.encoders, tmp_path)  # no corpus needed: loads the saved model
    assert again[0].model_proto == toks[0].model_proto
    batches = encode_prompts(["a blue square"], cfg.text.encoders, again)
    assert batches[0].ids.shape == (1, cfg.text.encoders[0].max_length)


def test_t5_relative_position_buckets_match_t5():
    # values from T5's reference bucketing (bidirectional, 32 buckets, max distance 128)
    rel = np.array([-200, -20, -8, -1, 0, 1, 7, 8, 20, 127, 200])
    assert relative_position_bucket(rel, 32, 128).tolist() == [15, 10, 8, 1, 0, 17, 23, 24, 26, 31, 31]


def test_t5_encoder_ignores_padding(devices):
    cfg = micro_config().text.encoders[0]
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        enc = build_encoder(cfg, rngs=nnx.Rngs(0))
    ids = jnp.array([[5, 6, 7, 1, 0, 0], [5, 6, 7, 1, 9, 9]])
    mask = jnp.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0]], bool)
    out = enc(ids, mask)
    assert out.shape == (2, 6, cfg.width)
    np.testing.assert_allclose(out[0, :4], out[1, :4], atol=1e-5)


def test_t5_locality_init_binds_each_word_to_its_neighbours(devices):
    """relative_bias_locality > 0: at initialisation a token's output depends on a neighbouring word far more than on
    a word across the prompt (the demo's encoder must tell which direction goes with which colour); 0 is T5's init."""
    base = micro_config().text.encoders[0]
    ids = jnp.array([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1]] * 3)
    ids = ids.at[1, 4].set(30).at[2, 11].set(30)  # a word 3 tokens after token 1; the same word 10 tokens after it
    mask = jnp.ones(ids.shape, bool)
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        plain = build_encoder(base, rngs=nnx.Rngs(0))
        local = build_encoder(dataclasses.replace(base, relative_bias_locality=1.0), rngs=nnx.Rngs(0))
    penalty = np.asarray(plain.relative_bias[...] - local.relative_bias[...])
    # distance x 2^-head: buckets 0, 3 and 20 hold offsets 0, 3 and +4
    np.testing.assert_allclose(penalty[[0, 3, 3, 20], [0, 0, 1, 1]], [0, 3, 1.5, 2], atol=1e-6)

    def near_over_far(encoder):
        out = np.asarray(encoder(ids, mask))
        return np.linalg.norm(out[1, 1] - out[0, 1]) / np.linalg.norm(out[2, 1] - out[0, 1])

    assert near_over_far(local) > 3 > near_over_far(plain)  # measured 6.9 and 0.5
