"""The text-to-video flow-matching train step: a pure function over (state, batch), jitted once.

State is a dict of pytrees: trainable `params`, the rest of the model (`rest`: frozen encoders), `opt_state`, `ema`
(of params) and `step`. Randomness is derived from (seed, step), so a resumed run draws exactly what an
uninterrupted run would have drawn.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from mgjax.config.schema import Config
from mgjax.flow.path import interpolate, model_velocity, velocity_target
from mgjax.flow.timesteps import sample_t
from mgjax.models.codec import LatentCodec, pixels_to_unit
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import constrain
from mgjax.train.ema import ema_decay_at, ema_update
from mgjax.train.guard import is_finite, keep_if, skipped

TrainState = dict[str, Any]


def drop_text(tokens, null_tokens, drop: jax.Array):
    """Replace the prompts of the samples where `drop` (b,) is True by the empty prompt (for classifier-free
    guidance). Entries are (ids (b, m), mask) or, precomputed, (hidden (b, m, d), mask)."""
    batch = drop.shape[0]

    def pick(null, x):
        return jnp.where(drop.reshape((batch,) + (1,) * (x.ndim - 1)), null.astype(x.dtype), x)

    return [(pick(null_x, x), pick(null_mask, mask)) for (x, mask), (null_x, null_mask) in zip(tokens, null_tokens)]


def draw_noise(key: jax.Array, batch: int, latent_shape: tuple[int, ...], cfg: Config) -> dict[str, jax.Array]:
    """Everything random in a step, drawn for the whole batch at once so that gradient accumulation over
    micro-batches computes exactly the full batch's loss: t (`sample_t`), the noise X_0, which prompts are dropped."""
    k_t, k_noise, k_drop = jax.random.split(key, 3)
    f = cfg.flow
    return {"t": sample_t(k_t, batch, f.t_sampling, f.logit_mean, f.logit_std, f.near_noise_prob, f.near_noise_logit_mean,
                          f.near_noise_logit_std),
            "x0": jax.random.normal(k_noise, (batch,) + tuple(latent_shape), jnp.float32),
            "drop": jax.random.bernoulli(k_drop, cfg.text.drop_prob, (batch,))}


def clean_latents(batch, codec: LatentCodec) -> jax.Array:
    return batch["latent"] if "latent" in batch else codec.encode(pixels_to_unit(batch["video"]))


def flow_matching_loss(graphdef, params, rest, batch, noise, *, cfg: Config, codec: LatentCodec, null_tokens,
                       conditioning: Callable | None = None):
    """MSE between u_theta(X_t, P, t) and V_t (paper §3.1.2). `conditioning(batch, noise)`: the model's further
    inputs, for a system on this backbone (Edit: the input video's latent, the task, the frame offsets)."""
    model = nnx.merge(graphdef, params, rest)
    x1, x0, t = clean_latents(batch, codec), noise["x0"], noise["t"]
    xt = interpolate(x0, x1, t, cfg.flow.sigma_min)
    tokens = batch["text"]
    if cfg.text.drop_prob > 0:
        tokens = drop_text(tokens, null_tokens, noise["drop"])
    extra = () if conditioning is None else conditioning(batch, noise)
    v = model_velocity(model(xt, t, tokens, *extra).astype(jnp.float32), xt, t, cfg.flow.prediction,
                       cfg.flow.sigma_min)
    return jnp.mean(jnp.square(v - velocity_target(x0, x1, cfg.flow.sigma_min)))


def micro_batches(tree, num: int):
    """(b, ...) leaves -> (num, b / num, ...). Micro-batch i takes rows i, i + num, ...: each device already holds a
    share of every micro-batch under a batch-sharded layout, so the split moves no data (the `batch` rule is the same
    in every preset)."""
    def split(x):
        x = jnp.swapaxes(x.reshape((x.shape[0] // num, num) + x.shape[1:]), 0, 1)
        return constrain(x, (None, "batch") + (None,) * (x.ndim - 2), VIDEO_RULES)

    return jax.tree.map(split, tree)


def make_train_step(graphdef, cfg: Config, codec: LatentCodec, tx: optax.GradientTransformation, null_tokens, *,
                    loss_fn: Callable = flow_matching_loss, more_noise: Callable | None = None):
    """(state, batch) -> (state, metrics). `null_tokens`: per-encoder (ids, mask) of the empty prompt, shape (1, m).
    With train.grad_accum_steps = k the batch runs as k micro-batches whose gradients are averaged (one update).
    A system on this backbone passes its own `loss_fn` (flow_matching_loss's signature) and `more_noise(key, batch,
    latent_shape)`, more batch-leading random draws for it."""
    accum = cfg.train.grad_accum_steps
    loss_and_grad = jax.value_and_grad(
        lambda params, rest, batch, noise: loss_fn(graphdef, params, rest, batch, noise, cfg=cfg, codec=codec,
                                                   null_tokens=null_tokens))

    def gradients(params, rest, batch, noise):
        if accum == 1:
            return loss_and_grad(params, rest, batch, noise)

        def body(carry, micro):
            loss, grads = loss_and_grad(params, rest, *micro)
            return jax.tree.map(jnp.add, carry, (loss, grads)), None

        zero = (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, params))
        (loss, grads), _ = jax.lax.scan(body, zero, micro_batches((batch, noise), accum))
        return jax.tree.map(lambda g: g / accum, (loss, grads))

    def train_step(state: TrainState, batch) -> tuple[TrainState, dict[str, jax.Array]]:
        key = jax.random.fold_in(jax.random.key(cfg.train.seed), state["step"])
        one = jax.tree.map(lambda x: x[:1], batch)
        latent_shape = jax.eval_shape(lambda b: clean_latents(b, codec), one).shape[1:]
        noise = draw_noise(key, jax.tree.leaves(batch)[0].shape[0], latent_shape, cfg)
        if more_noise is not None:
            noise.update(more_noise(jax.random.fold_in(key, 1), batch, latent_shape))
        loss, grads = gradients(state["params"], state["rest"], batch, noise)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        ema = ema_update(state["ema"], params, ema_decay_at(state["step"], cfg.optim.ema_decay))
        grad_norm = optax.tree.norm(grads)
        finite = is_finite(loss, grad_norm)
        new_state = dict(state, params=keep_if(finite, params, state["params"]),
                         opt_state=keep_if(finite, opt_state, state["opt_state"]),
                         ema=keep_if(finite, ema, state["ema"]), step=state["step"] + 1)
        return new_state, {"loss": loss, "grad_norm": grad_norm, "skipped": skipped(finite)}

    return train_step
