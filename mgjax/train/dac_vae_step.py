"""The DAC-VAE train step: a generator update (multi-scale mel + KL [+ LSGAN + feature matching]) and, in the
adversarial phase, a discriminator update. One compiled step per phase, as the TAE's."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.audio.discriminators import discriminator_loss, generator_losses
from mgjax.models.audio.losses import mel_distance, si_sdr
from mgjax.train.guard import discriminator_update, guarded_update, skipped


@dataclasses.dataclass(frozen=True)
class DACVAEPhase:
    adversarial: bool


def dac_vae_phase(cfg: Config, step: int) -> DACVAEPhase:
    loss = cfg.loss
    return DACVAEPhase(adversarial=(loss.adversarial_weight > 0 or loss.feature_weight > 0) and step >= loss.disc_start)


def audio_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(q(z|x) || N(0, I)) summed over channels, averaged over frames and clips."""
    return jnp.mean(jnp.sum(0.5 * (jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar), axis=-1))


def make_dac_vae_train_step(graphdef, disc_graphdef, cfg: Config, tx, disc_tx, phase: DACVAEPhase):
    loss_cfg, sample_rate = cfg.loss, cfg.model.sample_rate

    def generator_loss(params, disc_params, audio, key):
        model = nnx.merge(graphdef, params)
        recon, mean, logvar = model(audio, key if loss_cfg.sample_posterior else None)
        mel, kl = mel_distance(recon, audio, sample_rate), audio_kl(mean, logvar)
        loss = loss_cfg.mel_weight * mel + loss_cfg.kl_weight * kl
        metrics = {"mel": mel, "kl": kl, "si_sdr": jnp.mean(si_sdr(recon, audio))}
        if phase.adversarial:
            disc = nnx.merge(disc_graphdef, disc_params)
            adversarial, features = generator_losses(disc(recon), disc(audio))
            loss = loss + loss_cfg.adversarial_weight * adversarial + loss_cfg.feature_weight * features
            metrics.update(adversarial=adversarial, feature_matching=features)
        metrics["loss"] = loss
        return loss, (metrics, recon)

    def train_step(state, batch):
        key = jax.random.fold_in(jax.random.key(cfg.train.seed), state["step"])
        audio = batch["audio"].astype(jnp.float32)
        grads, (metrics, recon) = jax.grad(generator_loss, has_aux=True)(state["params"], state["disc"], audio, key)
        new_state, metrics["grad_norm"], finite = guarded_update(state, grads, tx, metrics["loss"])
        if phase.adversarial:
            def d_loss_of(disc_params):
                disc = nnx.merge(disc_graphdef, disc_params)
                return discriminator_loss(disc(jax.lax.stop_gradient(recon)), disc(audio))

            items, metrics["disc_loss"], finite = discriminator_update(state, d_loss_of, disc_tx, finite)
            new_state.update(items)
        metrics["skipped"] = skipped(finite)
        return new_state, metrics

    return train_step
