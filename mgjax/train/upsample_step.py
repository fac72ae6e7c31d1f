"""The spatial upsampler's train step (paper §3.1.7): flow matching on the image VAE's latent of the high-resolution
clip, conditioned on the latent of its degraded low-resolution input; `t2v_step.make_train_step` runs it.

The paper's "TAE-like artifacts": the first round(data.upsample.tae_prob x batch) samples of each batch (the pairs are
i.i.d., so which ones does not matter) have their low-resolution input replaced by its round trip through a trained
TAE (encode, decode), as a generated video's frames come out of the TAE. It runs here, on device, because it needs
the TAE's weights, and on those samples only (it costs as much as the image VAE's encode). Training clips shorter
than the sampling window start at a random row of the temporal position table (data.upsample.random_position).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from mgjax.config.schema import Config
from mgjax.models.codec import LatentCodec, pixels_to_unit
from mgjax.models.upsampler import condition_latent
from mgjax.train.t2v_step import flow_matching_loss, make_train_step


def tae_count(tae_prob: float, batch: int) -> int:
    """How many samples of a batch go through the TAE."""
    return int(round(tae_prob * batch))


def tae_roundtrip(tae: LatentCodec | None, low: jax.Array, count: int) -> jax.Array:
    """`low` (b, t, h, w, 3) in [-1, 1] with its first `count` samples through the TAE and back."""
    if tae is None or count == 0:
        return low
    back = jnp.clip(tae.decode(tae.encode(low[:count]), low.shape[1]), -1.0, 1.0)
    return jnp.concatenate([back, low[count:]], axis=0)


def low_latents(batch, codec: LatentCodec, tae: LatentCodec | None, tae_prob: float) -> jax.Array:
    """The conditioning latents of a batch's low-resolution inputs ("source"), at the targets' ("video") size; or
    the batch's own "low_latent" (cached latents, as the AOT planner compiles with)."""
    if "low_latent" in batch:
        return batch["low_latent"]
    low = tae_roundtrip(tae, pixels_to_unit(batch["source"]), tae_count(tae_prob, batch["source"].shape[0]))
    return condition_latent(codec, low, *batch["video"].shape[2:4])


def make_upsample_step(graphdef, cfg: Config, codec: LatentCodec, tae: LatentCodec | None,
                       tx: optax.GradientTransformation, null_tokens):
    """(state, batch) -> (state, metrics); batch: {"video" (the target), "source", "text"}."""
    m, s = cfg.model, cfg.sample

    def more_noise(key, batch, latent_shape):
        rows = min(m.max_patches[0], s.window_frames // m.patch_size[0]) - latent_shape[0] // m.patch_size[0]
        if not cfg.data.upsample.random_position or rows <= 0:
            return {}
        return {"frame_offset": jax.random.randint(key, (jax.tree.leaves(batch)[0].shape[0],), 0, rows + 1)}

    def conditioning(batch, noise):
        return low_latents(batch, codec, tae, cfg.data.upsample.tae_prob), noise.get("frame_offset")

    loss = functools.partial(flow_matching_loss, conditioning=conditioning)
    return make_train_step(graphdef, cfg, codec, tx, null_tokens, loss_fn=loss, more_noise=more_noise)
