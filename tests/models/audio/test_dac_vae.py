"""The DAC-VAE (paper §6) on tiny random configs: lengths, torch's initialisation, the paper config's rate."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mgjax.config import MeshConfig
from mgjax.config.audio import DACVAEConfig
from mgjax.config.geometry import audio_hop, audio_latent_frames
from mgjax.models.audio.chunking import jit_chunked
from mgjax.models.audio.dac_vae import DACVAE, Snake
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import DAC_VAE_RULES, use_rules

TINY = DACVAEConfig(sample_rate=16_000, encoder_dim=4, strides=(2, 4, 8, 10), decoder_dim=32, latent_channels=8)


def build(cfg: DACVAEConfig, abstract: bool = False):
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(DAC_VAE_RULES):
        make = lambda: DACVAE(cfg, rngs=nnx.Rngs(0))
        return nnx.eval_shape(make) if abstract else make()


@pytest.fixture(scope="module")
def tiny():
    return build(TINY)


def test_paper_config_is_48khz_at_25_latent_frames_per_second_of_128_channels():
    cfg = DACVAEConfig()
    hop = audio_hop(cfg.strides)
    assert (cfg.sample_rate, hop, cfg.sample_rate / hop, cfg.latent_channels) == (48_000, 1920, 25.0, 128)
    assert all(s % 2 == 0 for s in cfg.strides)  # the exact-length rule needs even strides
    model = build(cfg, abstract=True)
    count = lambda m: sum(math.prod(v.shape) for v in jax.tree.leaves(nnx.state(m, nnx.Param)))
    assert (round(count(model.encoder) / 1e6, 2), round(count(model.decoder) / 1e6, 2)) == (22.21, 49.56)


def test_any_length_round_trips_and_latent_frames_times_hop_is_the_padded_length(tiny):
    graphdef, params = nnx.split(tiny)
    run = jax.jit(lambda p, a: nnx.merge(graphdef, p)(a))
    for samples in (1, 641, 3 * 640):
        audio = jnp.asarray(np.random.default_rng(samples).uniform(-0.5, 0.5, (2, samples, 1)), jnp.float32)
        recon, mean, logvar = run(params, audio)
        frames = audio_latent_frames(samples, 640)
        assert mean.shape == logvar.shape == (2, frames, 8) and frames * tiny.hop >= samples > (frames - 1) * tiny.hop
        assert recon.shape == audio.shape and float(jnp.max(jnp.abs(recon))) <= 1.0
    assert jax.eval_shape(tiny.decode, mean).shape == (2, 3 * 640, 1)


def test_initialisation_is_torchs_weight_normalised_conv(tiny):
    conv = tiny.encoder.blocks[1].res_units[0].conv1  # 8 -> 8 channels, kernel 7
    v, g = np.asarray(conv.v[...]), np.asarray(conv.g[...])
    np.testing.assert_allclose(g, np.sqrt(np.sum(v ** 2, axis=(0, 1))), rtol=1e-6)  # w = v at init
    np.testing.assert_allclose(np.asarray(conv.weight()), v, rtol=1e-5, atol=1e-7)
    bound = 1 / math.sqrt(v.shape[0] * v.shape[1])  # torch's fan_in: in channels x kernel
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound and not np.asarray(conv.bias[...]).any()
    up = tiny.decoder.blocks[0].conv  # transposed: g per input channel, torch's fan_in is out channels x kernel
    uv = np.asarray(up.v[...])
    np.testing.assert_allclose(np.asarray(up.g[...]), np.sqrt(np.sum(uv ** 2, axis=(0, 2))), rtol=1e-6)
    assert np.abs(uv).max() <= 1 / math.sqrt(uv.shape[0] * uv.shape[2]) and np.asarray(up.bias[...]).any()


def test_snake_is_x_plus_sin_squared_over_alpha():
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(DAC_VAE_RULES):
        snake = Snake(2)
    snake.alpha[...] = jnp.array([1.0, 0.5])
    x = jnp.array([[[0.3, 2.0]]])
    expect = np.array([0.3 + np.sin(0.3) ** 2, 2.0 + np.sin(1.0) ** 2 / 0.5])
    np.testing.assert_allclose(np.asarray(snake(x))[0, 0], expect, rtol=1e-6)


def test_odd_decoder_width_is_refused():
    with pytest.raises(ValueError, match="divisible by 2"):
        build(DACVAEConfig(decoder_dim=1000))


def test_chunked_encode_and_decode_of_60_seconds_equal_one_pass_whatever_the_chunk(tiny):
    """DAC's chunked inference depends on the chunk length and is noisy at clip ends (its issues #39, #69); ours
    equals the single pass everywhere, ends included, for any chunk length and any signal length."""
    n = 60 * TINY.sample_rate + 123
    t = np.arange(n) / TINY.sample_rate
    rng = np.random.default_rng(0)
    wave = 0.4 * np.sin(2 * np.pi * 220 * t * (1 + t / 60)) + 0.05 * rng.standard_normal(n)
    audio = jnp.asarray(wave[None, :, None], jnp.float32)
    graphdef, state = nnx.split(tiny)
    single = jax.jit(lambda s, a: nnx.merge(graphdef, s).encode(a))
    mean, logvar = single(state, audio)
    audio_full = jax.jit(lambda s, z: nnx.merge(graphdef, s).decode(z, n))(state, mean)
    scale = float(jnp.max(jnp.abs(audio_full)))
    for chunk in (97, 250):
        encode, decode = jit_chunked(tiny, chunk)
        chunk_mean, chunk_logvar = encode(audio)
        np.testing.assert_allclose(np.asarray(chunk_mean), np.asarray(mean), atol=1e-5 * float(jnp.max(jnp.abs(mean))))
        np.testing.assert_allclose(np.asarray(chunk_logvar), np.asarray(logvar), atol=1e-4)
        decoded = decode(mean, n)
        assert decoded.shape == (1, n, 1)
        np.testing.assert_allclose(np.asarray(decoded), np.asarray(audio_full), atol=1e-5 * scale)
