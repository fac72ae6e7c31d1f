"""DAC's discriminators and GAN losses (mgjax/models/audio/discriminators.py): shapes, and that training signals
reach the generator's audio."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config import MeshConfig
from mgjax.models.audio.discriminators import DACDiscriminator, discriminator_loss, generator_losses, normalise
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import DAC_VAE_RULES, use_rules


def test_discriminators_maps_losses_and_gradients():
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(DAC_VAE_RULES):
        disc = DACDiscriminator(periods=(3,), fft_sizes=(512,), rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    real = jnp.asarray(np.sin(np.arange(4000) / 7.0)[None, :, None] * 0.5 + 0.01 * rng.standard_normal((2, 4000, 1)),
                       jnp.float32)
    fake = jnp.asarray(0.1 * rng.standard_normal((2, 4000, 1)), jnp.float32)
    period_maps, stft_maps = jax.eval_shape(disc, real)
    assert len(period_maps) == 6 and period_maps[-1].shape[-1] == 1
    assert period_maps[0].shape == (2, -(-4002 // 3) // 3 + 1, 3, 32)  # (4000 + 2) / 3 rows, stride 3 with padding 2
    assert len(stft_maps) == 5 * 5 + 1 and stft_maps[-1].shape[:2] == (2, 1 + 4000 // 128)
    normed = normalise(real)
    np.testing.assert_allclose(np.abs(np.asarray(normed)).max(axis=1), 0.8, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(normed).mean(axis=1), 0.0, atol=1e-6)

    graphdef, params = nnx.split(disc)

    @jax.jit
    def signals(p, f):
        d_loss = lambda p, f: discriminator_loss(nnx.merge(graphdef, p)(f), nnx.merge(graphdef, p)(real))
        g_loss = lambda f: sum(generator_losses(nnx.merge(graphdef, p)(f), nnx.merge(graphdef, p)(real)))
        same = generator_losses(nnx.merge(graphdef, p)(real), nnx.merge(graphdef, p)(real))
        return d_loss(p, f), jax.grad(d_loss)(p, f), jax.grad(g_loss)(f), same

    loss, grads, audio_grad, (adversarial, features) = signals(params, fake)
    assert float(loss) > 0 and float(optax_norm(grads)) > 0
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))
    assert float(jnp.abs(audio_grad).max()) > 0  # the generator's signal reaches its audio
    assert float(features) == 0.0 and float(adversarial) > 0


def optax_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))
