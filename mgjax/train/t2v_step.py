"""The text-to-video flow-matching train step: a pure function over (state, batch), jitted once.

State is a dict of pytrees: trainable `params`, the rest of the model (`rest`: frozen encoders), `opt_state`, `ema`
(of params) and `step`. Randomness is derived from (seed, step), so a resumed run draws exactly what an
uninterrupted run would have drawn.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from mgjax.config.schema import Config
from mgjax.flow.path import interpolate, model_velocity, velocity_target
from mgjax.flow.timesteps import sample_t
from mgjax.models.codec.base import LatentCodec
from mgjax.train.ema import ema_decay_at, ema_update

TrainState = dict[str, Any]


def pixels_to_unit(video: jax.Array) -> jax.Array:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return video.astype(jnp.float32) / 127.5 - 1.0


def drop_text(tokens, null_tokens, key: jax.Array, prob: float):
    """Replace each sample's prompt by the empty prompt with probability `prob` (for classifier-free guidance).
    Entries are (ids (b, m), mask) or, precomputed, (hidden (b, m, d), mask)."""
    batch = tokens[0][0].shape[0]
    drop = jax.random.bernoulli(key, prob, (batch,))

    def pick(null, x):
        return jnp.where(drop.reshape((batch,) + (1,) * (x.ndim - 1)), null.astype(x.dtype), x)

    return [(pick(null_x, x), pick(null_mask, mask)) for (x, mask), (null_x, null_mask) in zip(tokens, null_tokens)]


def flow_matching_loss(graphdef, params, rest, batch, key, *, cfg: Config, codec: LatentCodec, null_tokens):
    """MSE between u_theta(X_t, P, t) and V_t (paper §3.1.2); t ~ logit-normal."""
    model = nnx.merge(graphdef, params, rest)
    x1 = batch["latent"] if "latent" in batch else codec.encode(pixels_to_unit(batch["video"]))
    k_t, k_noise, k_drop = jax.random.split(key, 3)
    t = sample_t(k_t, x1.shape[0], cfg.flow.t_sampling, cfg.flow.logit_mean, cfg.flow.logit_std)
    x0 = jax.random.normal(k_noise, x1.shape, jnp.float32)
    xt = interpolate(x0, x1, t, cfg.flow.sigma_min)
    tokens = batch["text"]
    if cfg.text.drop_prob > 0:
        tokens = drop_text(tokens, null_tokens, k_drop, cfg.text.drop_prob)
    v = model_velocity(model(xt, t, tokens).astype(jnp.float32), xt, t, cfg.flow.prediction, cfg.flow.sigma_min)
    return jnp.mean(jnp.square(v - velocity_target(x0, x1, cfg.flow.sigma_min)))


def make_train_step(graphdef, cfg: Config, codec: LatentCodec, tx: optax.GradientTransformation, null_tokens):
    """(state, batch) -> (state, metrics). `null_tokens`: per-encoder (ids, mask) of the empty prompt, shape (1, m)."""

    def train_step(state: TrainState, batch) -> tuple[TrainState, dict[str, jax.Array]]:
        key = jax.random.fold_in(jax.random.key(cfg.train.seed), state["step"])
        loss, grads = jax.value_and_grad(flow_matching_loss, argnums=1)(
            graphdef, state["params"], state["rest"], batch, key, cfg=cfg, codec=codec, null_tokens=null_tokens)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        ema = ema_update(state["ema"], params, ema_decay_at(state["step"], cfg.optim.ema_decay))
        grad_norm = optax.tree.norm(grads)
        # A non-finite loss or gradient (a bad batch, an overflow) skips the update instead of poisoning the weights;
        # the step still advances (the next batch is the next step's) and the skip is counted in the metrics.
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)  # noqa: E731
        new_state = dict(state, params=keep(params, state["params"]), opt_state=keep(opt_state, state["opt_state"]),
                         ema=keep(ema, state["ema"]), step=state["step"] + 1)
        return new_state, {"loss": loss, "grad_norm": grad_norm, "skipped": 1.0 - finite.astype(jnp.float32)}

    return train_step
