"""TAE training losses (paper §3.1.1): reconstruction, KL, the outlier penalty, and the hinge GAN losses.

Scales follow the LDM autoencoder so its weights carry over: LDM sums the reconstruction error and the KL per sample;
here both are divided by the number of pixel values per sample (a mean reconstruction error), which keeps their ratio
and so the meaning of kl_weight = 1e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def reconstruction_loss(video: jax.Array, recon: jax.Array, l1_weight: float, l2_weight: float) -> jax.Array:
    diff = recon.astype(jnp.float32) - video.astype(jnp.float32)
    return l1_weight * jnp.mean(jnp.abs(diff)) + l2_weight * jnp.mean(jnp.square(diff))


def kl_loss(mean: jax.Array, logvar: jax.Array, pixel_values_per_sample: int) -> jax.Array:
    """KL(q(z|x) || N(0, I)) summed over a sample's latent, averaged over the batch, per pixel value."""
    kl = 0.5 * (jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar)
    return jnp.sum(kl) / mean.shape[0] / pixel_values_per_sample


def outlier_penalty(latent: jax.Array, r: float) -> jax.Array:
    """L_OPL(X, r) = 1/(HW) sum_ij max(||X_ij - Mean(X)|| - r ||Std(X)||, 0), per frame (time folded into the batch).

    latent: (b, t, h, w, c). Mean(X) and Std(X) are the frame's per-channel statistics over positions; the norms run
    over the channel vector. Penalises latent positions far outside the frame's spread ("latent dots")."""
    x = latent.astype(jnp.float32).reshape(-1, latent.shape[2] * latent.shape[3], latent.shape[4])
    mean = jnp.mean(x, axis=1, keepdims=True)
    std = jnp.std(x, axis=1, keepdims=True)
    excess = jnp.linalg.norm(x - mean, axis=-1) - r * jnp.linalg.norm(std, axis=-1)
    return jnp.mean(jnp.maximum(excess, 0.0))


def outlier_ratio(latent: jax.Array) -> jax.Array:
    """The largest latent norm over the mean norm (per-position channel norms): the "latent dots" statistic."""
    norms = jnp.linalg.norm(latent.astype(jnp.float32), axis=-1)
    return jnp.max(norms) / jnp.mean(norms)


def hinge_discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    return 0.5 * (jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits)))


def hinge_generator_loss(fake_logits: jax.Array) -> jax.Array:
    return -jnp.mean(fake_logits)


def adaptive_weight(rec_grad: jax.Array, gan_grad: jax.Array, max_weight: float = 1e4) -> jax.Array:
    """LDM's balance: ||d rec / d W_last|| / ||d gan / d W_last||, clipped and not differentiated."""
    weight = jnp.linalg.norm(rec_grad) / (jnp.linalg.norm(gan_grad) + 1e-4)
    return jax.lax.stop_gradient(jnp.clip(weight, 0.0, max_weight))
