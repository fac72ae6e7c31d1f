"""The three-encoder text path (UL2-style T5 + ByT5 on quoted spans + long-prompt CLIP) end to end in a tiny config:
all 1003 Movie Gen Bench prompts through tokenizers, encoders, projections and the backbone."""

import dataclasses
import logging
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from conftest import micro_config, write_clip_vocab
from mgjax.config import MeshConfig, TextConfig, TextEncoderConfig
from mgjax.data.moving_shapes import caption_corpus
from mgjax.models.t2v import TextToVideo
from mgjax.models.text.stack import encode_prompts, load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh

BENCH = pathlib.Path(__file__).resolve().parents[2] / "data" / "moviegenbench" / "MovieGenVideoBench.txt"


def three_encoder_config(clip_dir: pathlib.Path):
    small = dict(width=16, num_layers=1, num_heads=2, head_dim=8, ffn_width=32)
    encoders = (
        TextEncoderConfig(name="ul2", vocab_size=256, activation="silu", max_length=300, tokenizer_model="bpe",
                          **small),
        TextEncoderConfig(name="byt5", vocab_size=384, activation="gelu_tanh", max_length=100, input="quoted",
                          tokenizer="byte", sharding="replicated", **small),
        TextEncoderConfig(name="metaclip", kind="clip", vocab_size=515, activation="quick_gelu", norm_eps=1e-5,
                          max_length=256, projection_dim=8, tokenizer="clip_bpe", tokenizer_path=str(clip_dir),
                          sharding="replicated", **small),
    )
    return dataclasses.replace(micro_config(), text=TextConfig(encoders=encoders))


def test_all_bench_prompts_run_through_the_three_encoder_stack(devices, tmp_path, caplog):
    cfg = three_encoder_config(write_clip_vocab(tmp_path / "clip"))
    prompts = BENCH.read_text("utf-8").splitlines()
    assert len(prompts) == 1003
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, tmp_path, corpus=lambda: caption_corpus(num=300))
    with caplog.at_level(logging.WARNING):
        batches = encode_prompts(prompts, cfg.text.encoders, tokenizers)
    counts = {e.name: b.num_truncated for e, b in zip(cfg.text.encoders, batches)}
    print("prompts over each encoder's limit:", counts)
    assert counts["byt5"] == 0  # ByT5 reads only the quoted spans ("O", "Meta")
    assert int(batches[1].mask[:, 1:].any(1).sum()) == 2  # only two prompts quote text for ByT5
    for e, b in zip(cfg.text.encoders, batches):
        assert b.num_truncated == int(b.mask.all(1).sum())  # every full row was cut, and counted
        if b.num_truncated:
            assert any(f"exceed {e.name}'s {e.max_length} tokens" in r.message for r in caplog.records)

    with jax.set_mesh(make_mesh(MeshConfig(data=-1), devices)):
        model = TextToVideo(cfg, rngs=nnx.Rngs(0))
        graphdef, state = nnx.split(model)

        @jax.jit
        def forward(state, latents, t, tokens):
            return nnx.merge(graphdef, state)(latents, t, tokens)

        b = 59  # 1003 = 17 x 59
        latent_shape = (b, 8, 4, 4, cfg.model.in_channels)
        total = 0.0
        for i in range(0, len(prompts), b):
            tokens = [(jnp.asarray(x.ids[i:i + b]), jnp.asarray(x.mask[i:i + b])) for x in batches]
            out = forward(state, jnp.ones(latent_shape), jnp.full((b,), 0.5), tokens)
            assert out.shape == latent_shape
            total += float(jnp.abs(out).sum())
    assert np.isfinite(total)


def test_ul2_is_fsdp_sharded_the_others_replicated_and_all_frozen(devices, tmp_path):
    """Paper Fig. 8: UL2 under FSDP, ByT5 and MetaCLIP replicated; frozen encoders are outside the optimizer."""
    from mgjax.models.t2v import trainable_filter

    base = three_encoder_config(write_clip_vocab(tmp_path / "clip"))
    cfg = dataclasses.replace(base, mesh=MeshConfig(data=1, fsdp=-1))
    with jax.set_mesh(make_mesh(cfg.mesh, devices)):
        model = TextToVideo(cfg, rngs=nnx.Rngs(0))
    ul2, byt5, clip = model.text_encoders
    assert "fsdp" in str(ul2.layers[0].q.kernel[...].sharding.spec)
    assert ul2.layers[0].q.kernel[...].addressable_shards[0].data.shape[0] == 16 // 8
    for enc in (byt5, clip):
        for _, var in nnx.to_flat_state(nnx.state(enc, nnx.Param)):
            assert var[...].sharding.is_fully_replicated
    trainable = nnx.state(model, trainable_filter(cfg))
    assert "text_encoders" not in trainable and "backbone" in trainable
