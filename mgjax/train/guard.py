"""Skipping an update whose loss or gradient is not finite (a bad batch, an overflow): the weights, optimizer moments
and EMA keep their old values, the step still advances (the next batch belongs to the next step), and the skip is
reported as the metric "skipped" (the loop logs the running count as train/skipped_updates)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def is_finite(loss: jax.Array, grad_norm: jax.Array) -> jax.Array:
    return jnp.isfinite(loss) & jnp.isfinite(grad_norm)


def keep_if(finite: jax.Array, new, old):
    """`new` where the update is finite, else `old`, leaf by leaf (pytrees of the same structure)."""
    return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)


def skipped(finite: jax.Array) -> jax.Array:
    return 1.0 - finite.astype(jnp.float32)


def discriminator_update(state: dict, loss_of, tx, finite: jax.Array) -> tuple[dict, jax.Array, jax.Array]:
    """One guarded step of the discriminator in `state["disc"]` on `loss_of(disc_params)`, kept only when it and the
    generator's step (`finite`) are finite: (the state items it updates, its loss, whether the whole step was)."""
    loss, grads = jax.value_and_grad(loss_of)(state["disc"])
    updates, opt_state = tx.update(grads, state["disc_opt_state"], state["disc"])
    finite = finite & is_finite(loss, optax.tree.norm(grads))
    items = {"disc": keep_if(finite, optax.apply_updates(state["disc"], updates), state["disc"]),
             "disc_opt_state": keep_if(finite, opt_state, state["disc_opt_state"])}
    return items, loss, finite


def guarded_update(state: dict, grads, tx, loss: jax.Array) -> tuple[dict, jax.Array, jax.Array]:
    """The optimizer step of `state["params"]`, kept only when `loss` and the gradients are finite; the step counter
    advances either way: (the new state, the gradient norm, whether it was finite)."""
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    grad_norm = optax.tree.norm(grads)
    finite = is_finite(loss, grad_norm)
    new_state = dict(state, params=keep_if(finite, optax.apply_updates(state["params"], updates), state["params"]),
                     opt_state=keep_if(finite, opt_state, state["opt_state"]), step=state["step"] + 1)
    return new_state, grad_norm, finite
