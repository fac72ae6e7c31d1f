"""The TAE train step: a VAE generator update (reconstruction + KL [+ perceptual] [+ adversarial] [+ outlier penalty])
and, once the adversarial phase starts, a PatchGAN discriminator update.

The phase (adversarial on/off, outlier penalty on/off) is fixed per compiled step; the loop picks the step for the
current phase, so no FLOPs are spent on the discriminator before `disc_start`. State: `params` (TAE), `opt_state`,
`disc`, `disc_opt_state`, `step`; randomness comes from (seed, step) so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.codec import pixels_to_unit
from mgjax.models.tae.losses import (adaptive_weight, hinge_discriminator_loss, hinge_generator_loss, kl_loss,
                                     outlier_penalty, outlier_ratio, reconstruction_loss)
from mgjax.train.guard import discriminator_update, guarded_update, skipped


@dataclasses.dataclass(frozen=True)
class TAEPhase:
    adversarial: bool
    outlier_penalty: bool


def tae_phase(cfg: Config, step: int) -> TAEPhase:
    loss = cfg.loss
    return TAEPhase(adversarial=loss.disc_weight > 0 and step >= loss.disc_start,
                    outlier_penalty=loss.opl_weight > 0 and step >= loss.opl_start)


def psnr(video: jax.Array, recon: jax.Array) -> jax.Array:
    """Mean PSNR over samples, for [-1, 1] videos (peak-to-peak 2)."""
    mse = jnp.mean(jnp.square(jnp.clip(recon, -1, 1) - video), axis=tuple(range(1, video.ndim)))
    return jnp.mean(10.0 * jnp.log10(4.0 / jnp.maximum(mse, 1e-10)))


def random_crops(video: jax.Array, key: jax.Array, size: int) -> jax.Array:
    """An independent random size x size crop of each clip (the same window in every frame): (b, t, size, size, c)."""
    b, _, h, w, _ = video.shape
    if size >= min(h, w):
        return video
    rows = jax.random.randint(key, (b,), 0, h - size + 1)
    cols = jax.random.randint(jax.random.fold_in(key, 1), (b,), 0, w - size + 1)
    crop = lambda v, r, c: jax.lax.dynamic_slice(v, (0, r, c, 0), (v.shape[0], size, size, v.shape[3]))
    return jax.vmap(crop)(video, rows, cols)


def make_tae_train_step(graphdef, disc_graphdef, cfg: Config, tx: optax.GradientTransformation,
                        disc_tx: optax.GradientTransformation, phase: TAEPhase,
                        perceptual: Callable[[jax.Array, jax.Array], jax.Array] | None = None):
    loss_cfg = cfg.loss

    def reconstruction_terms(video, recon_full):
        recon = recon_full[:, :video.shape[1]]
        rec = reconstruction_loss(video, recon, loss_cfg.l1_weight, loss_cfg.l2_weight)
        if perceptual is not None and loss_cfg.perceptual_weight > 0:
            frames = lambda v: v.reshape(-1, *v.shape[2:])
            rec = rec + loss_cfg.perceptual_weight * jnp.mean(perceptual(frames(video), frames(recon)))
        return rec

    def generator_loss(params, disc_params, video, key):
        model = nnx.merge(graphdef, params)
        mean, logvar = model.encode(video)
        z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape) if loss_cfg.sample_posterior else mean
        features = model.decoder.features(z)
        last_kernel = model.decoder.conv_out.temporal.kernel[...]
        recon_full, last_vjp = jax.vjp(lambda w: model.decoder.last_layer(features, w), last_kernel)
        rec = reconstruction_terms(video, recon_full)
        kl = kl_loss(mean, logvar, video[0].size)
        loss = rec + loss_cfg.kl_weight * kl
        metrics = {"rec": rec, "kl": kl, "latent_outlier_ratio": outlier_ratio(mean),
                   "psnr": psnr(video, recon_full[:, :video.shape[1]])}
        opl = outlier_penalty(mean, loss_cfg.opl_r)
        metrics["opl"] = opl
        if phase.outlier_penalty:
            loss = loss + loss_cfg.opl_weight * opl
        if phase.adversarial:
            disc = nnx.merge(disc_graphdef, disc_params)
            gan_of = lambda y: hinge_generator_loss(disc(y[:, :video.shape[1]]))
            gan = gan_of(recon_full)
            weight = jnp.asarray(1.0)
            if loss_cfg.adaptive_disc_weight:
                rec_grad = last_vjp(jax.grad(lambda y: reconstruction_terms(video, y))(recon_full))[0]
                gan_grad = last_vjp(jax.grad(gan_of)(recon_full))[0]
                weight = adaptive_weight(rec_grad, gan_grad)
            loss = loss + loss_cfg.disc_weight * weight * gan
            metrics.update(gan=gan, disc_adaptive_weight=weight)
        metrics["loss"] = loss
        return loss, (metrics, recon_full[:, :video.shape[1]])

    def discriminator_loss(disc_params, video, recon):
        disc = nnx.merge(disc_graphdef, disc_params)
        return hinge_discriminator_loss(disc(video), disc(jax.lax.stop_gradient(recon)))

    def train_step(state, batch):
        key = jax.random.fold_in(jax.random.key(cfg.train.seed), state["step"])
        video = pixels_to_unit(batch["video"])
        if loss_cfg.train_crop:
            key, crop_key = jax.random.split(key)
            video = random_crops(video, crop_key, loss_cfg.train_crop)
        grads, (metrics, recon) = jax.grad(generator_loss, has_aux=True)(
            state["params"], state["disc"], video, key)
        new_state, metrics["grad_norm"], finite = guarded_update(state, grads, tx, metrics["loss"])
        if phase.adversarial:
            items, metrics["disc_loss"], finite = discriminator_update(
                state, lambda d: discriminator_loss(d, video, recon), disc_tx, finite)
            new_state.update(items)
        metrics["skipped"] = skipped(finite)
        return new_state, metrics

    return train_step
