"""The Movie Gen Edit step (paper §5.2): flow matching on the target video's latent, conditioned on the input video's
latent (channels), the instruction (text) and the task (embedding); `t2v_step.make_train_step` runs it. Text-to-video
batches of the multitask mix arrive with a black input video and task 0.

Text and input video are dropped independently (text.drop_prob, data.edit.source_drop_prob) so sampling can guide on
each. Samples of one-frame batches (stage I's image edits) take random rows of the temporal position table when
data.edit.random_image_position is set (paper §5.2), so image edits are not all "frame 0".
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from mgjax.config.schema import Config
from mgjax.models.codec import LatentCodec, pixels_to_unit
from mgjax.train.t2v_step import flow_matching_loss, make_train_step


def source_latents(batch, codec: LatentCodec, drop: jax.Array) -> jax.Array:
    """The input videos' latents, with those where `drop` (b,) is True replaced by a black video's. Batches carry
    pixels ("source"), or latents ("source_latent", with "black_latent" (1, ...) for the dropped ones)."""
    keep = ~drop[:, None, None, None, None]
    if "source_latent" in batch:
        return jnp.where(keep, batch["source_latent"], batch["black_latent"])
    return codec.encode(pixels_to_unit(jnp.where(keep, batch["source"], jnp.zeros_like(batch["source"]))))


def make_edit_step(graphdef, cfg: Config, codec: LatentCodec, tx: optax.GradientTransformation, null_tokens):
    """(state, batch) -> (state, metrics); batch: {"video" (the target), "source", "task", "text"}."""
    e, m = cfg.data.edit, cfg.model

    def more_noise(key, batch, latent_shape):
        b = batch["task"].shape[0]
        k_source, k_offset = jax.random.split(key)
        out = {"drop_source": jax.random.bernoulli(k_source, e.source_drop_prob, (b,))}
        rows = m.max_patches[0] - latent_shape[0] // m.patch_size[0]  # last row a clip of this length can start at
        if e.random_image_position and latent_shape[0] == 1 and rows > 0:
            out["frame_offset"] = jax.random.randint(k_offset, (b,), 0, rows + 1)
        return out

    def conditioning(batch, noise):
        return source_latents(batch, codec, noise["drop_source"]), batch["task"], noise.get("frame_offset")

    loss = functools.partial(flow_matching_loss, conditioning=conditioning)
    return make_train_step(graphdef, cfg, codec, tx, null_tokens, loss_fn=loss, more_noise=more_noise)
