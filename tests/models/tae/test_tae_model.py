"""The TAE's shapes (paper size, abstractly), its frame-count rule, its 2.5D layers and their identity initialisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mgjax.config import MeshConfig, TAEConfig
from mgjax.config.geometry import tae_compression, tae_latent_frames
from mgjax.models.tae.attention import TemporalAttention
from mgjax.models.tae.layers import TemporalConv
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import TAE_RULES, use_rules

TINY = TAEConfig(base_channels=8, channel_mult=(1, 2, 2), num_res_blocks=1, temporal_downsample=(True, True),
                 latent_channels=4, num_groups=4)


def jitted(model, fn, *args):
    """fn(model, *args) compiled: eager op-by-op dispatch of a conv net is slow on CPU."""
    graphdef, state = nnx.split(model)
    return jax.jit(lambda s, *a: fn(nnx.merge(graphdef, s), *a))(state, *args)


@pytest.fixture
def mesh1():
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])) as mesh:
        yield mesh


def _abstract_tae(cfg):
    return nnx.split(nnx.eval_shape(lambda: TemporalAutoencoder(cfg, rngs=nnx.Rngs(0))))


def test_paper_tae_maps_a_256_frame_768px_clip_to_32x96x96x16_and_back(mesh1):
    cfg = TAEConfig()
    assert tae_compression(cfg) == (8, 8, 8)
    graphdef, state = _abstract_tae(cfg)
    encode = lambda s, x: nnx.merge(graphdef, s).encode(x)[0]
    decode = lambda s, z, n: nnx.merge(graphdef, s).decode(z, n)
    z = jax.eval_shape(encode, state, jax.ShapeDtypeStruct((1, 256, 768, 768, 3), jnp.float32))
    assert z.shape == (1, 32, 96, 96, 16)
    assert jax.eval_shape(lambda s, z: decode(s, z, None), state, z).shape == (1, 256, 768, 768, 3)
    image = jax.eval_shape(encode, state, jax.ShapeDtypeStruct((1, 1, 768, 768, 3), jnp.float32))
    assert image.shape == (1, 1, 96, 96, 16)
    assert jax.eval_shape(lambda s, z: decode(s, z, 1), state, image).shape == (1, 1, 768, 768, 3)
    params = sum(x.size for x in jax.tree.leaves(state))
    assert 100e6 < params < 130e6  # the SD VAE (84M) plus its temporal layers


@pytest.mark.parametrize("frames", [1, 3, 4, 5, 9, 12])
def test_any_frame_count_encodes_to_ceil_t_over_ft_and_decodes_to_its_length(mesh1, frames):
    model = TemporalAutoencoder(TINY, rngs=nnx.Rngs(0))
    video = jax.random.uniform(jax.random.key(0), (1, frames, 16, 16, 3), minval=-1, maxval=1)
    recon, mean, logvar, z = jax.eval_shape(lambda v: model(v), video)
    assert mean.shape == (1, -(-frames // 4), 4, 4, 4) == (1, tae_latent_frames(TINY, frames), 4, 4, 4)
    assert recon.shape == video.shape
    assert jax.eval_shape(model.decode, z).shape[1] == 4 * mean.shape[1]  # the spurious frames before trimming


def test_temporal_conv_replicate_pads_symmetrically_and_strides_to_ceil_half(mesh1):
    with use_rules(TAE_RULES):
        conv = TemporalConv(2, 3, 3, 2, identity_init=False, dtype=jnp.float32, param_dtype=jnp.float32,
                            rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).normal(size=(1, 5, 1, 1, 2)).astype(np.float32)
    w, b = np.asarray(conv.kernel[...]), np.asarray(conv.bias[...])
    padded = np.concatenate([x[:, :1], x, x[:, -1:]], axis=1)  # replicate, one frame each side
    expected = np.stack([sum(padded[:, 2 * i + k] @ w[k] for k in range(3)) + b for i in range(3)], axis=1)
    np.testing.assert_allclose(np.asarray(conv(jnp.asarray(x))), expected, rtol=1e-5, atol=1e-5)


def test_temporal_layers_start_as_identity_so_image_weights_carry_over(mesh1):
    """Without temporal downsampling, an identity-initialised TAE treats every frame as an image: encoding a clip
    equals encoding its frames one by one (and decoding likewise)."""
    cfg = TAEConfig(base_channels=8, channel_mult=(1, 2), num_res_blocks=1, temporal_downsample=(False,),
                    latent_channels=4, num_groups=4)
    model = TemporalAutoencoder(cfg, rngs=nnx.Rngs(0))
    video = jax.random.uniform(jax.random.key(1), (2, 3, 8, 8, 3), minval=-1, maxval=1)
    def by_frame(m, v):
        clip_mean = m.encode(v)[0]
        frame_means = jnp.concatenate([m.encode(v[:, i:i + 1])[0] for i in range(3)], axis=1)
        frame_decodes = jnp.concatenate([m.decode(clip_mean[:, i:i + 1]) for i in range(3)], axis=1)
        return clip_mean, frame_means, m.decode(clip_mean), frame_decodes

    clip_mean, frame_means, clip_decode, frame_decodes = jitted(model, by_frame, video)
    np.testing.assert_allclose(clip_mean, frame_means, atol=1e-5)
    np.testing.assert_allclose(clip_decode, frame_decodes, atol=1e-5)


def test_identity_init_off_mixes_frames(mesh1):
    cfg = TAEConfig(base_channels=8, channel_mult=(1, 2), num_res_blocks=1, temporal_downsample=(False,),
                    latent_channels=4, num_groups=4, temporal_identity_init=False)
    model = TemporalAutoencoder(cfg, rngs=nnx.Rngs(0))
    video = jax.random.uniform(jax.random.key(1), (1, 3, 8, 8, 3), minval=-1, maxval=1)
    alone, together = jitted(model, lambda m, v: (m.encode(v[:, :1])[0], m.encode(v)[0][:, :1]), video)
    assert float(jnp.abs(together - alone).max()) > 1e-3


def test_temporal_attention_attends_over_time_once_trained_weights_are_nonzero(mesh1):
    with use_rules(TAE_RULES):
        attn = TemporalAttention(8, 4, identity_init=True, dtype=jnp.float32, param_dtype=jnp.float32,
                                 rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (1, 4, 2, 2, 8))
    np.testing.assert_allclose(attn(x), x)  # zero output projection: identity
    attn.out.kernel[...] = jnp.eye(8)
    y = attn(x)
    y_changed = attn(x.at[:, 3].multiply(jax.random.normal(jax.random.key(1), x[:, 3].shape)))
    assert float(jnp.abs(y_changed[:, 0] - y[:, 0]).max()) > 1e-4  # frame 0 sees frame 3
