"""Patchify: a conv whose kernel equals its stride turns a latent grid into tokens, optionally with conditioning
channels (Movie Gen Edit's input video, the upsampler's low-resolution latent) beside the noisy latent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.params import param


class PatchEmbed(nnx.Module):
    """(b, t, h, w, c [+ cond]) -> (b, t/pt, h/ph, w/pw, d), bias-free.

    One kernel (pt, ph, pw, in + cond, d) covers both inputs, as a patchify conv over the channel-concatenated latent
    (paper §5: 16 -> 32 channels). Its conditioning rows start at zero, and the two parts are applied as two convs
    and summed, so at initialisation the output is bit for bit the text-to-video patchify's whatever the condition.
    """

    def __init__(self, in_channels: int, width: int, patch_size: tuple[int, int, int], *, cond_channels: int = 0,
                 dtype, param_dtype, rngs: nnx.Rngs):
        xavier = nnx.initializers.xavier_uniform()
        shape = tuple(patch_size) + (in_channels, width)

        def init(key, _, dt):
            kernel = xavier(key, shape, dt)
            zeros = jnp.zeros(tuple(patch_size) + (cond_channels, width), dt)
            return jnp.concatenate([kernel, zeros], axis=-2) if cond_channels else kernel

        self.kernel = param(init, tuple(patch_size) + (in_channels + cond_channels, width),
                            (None, None, None, "patch", "embed"), key=rngs.params(), dtype=param_dtype)
        self.in_channels, self.cond_channels = in_channels, cond_channels
        self.patch_size, self.dtype = tuple(patch_size), dtype

    def _conv(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        return jax.lax.conv_general_dilated(x.astype(self.dtype), kernel.astype(self.dtype), self.patch_size, "VALID",
                                            dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))

    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        """x: (b, t, h, w, in); cond: (b, t, h, w, cond_channels) or None (no condition: its rows contribute 0)."""
        kernel = self.kernel[...]
        if not self.cond_channels:
            return self._conv(x, kernel)
        out = self._conv(x, kernel[..., :self.in_channels, :])
        if cond is None:
            return out
        if cond.shape[:-1] != x.shape[:-1] or cond.shape[-1] != self.cond_channels:
            raise ValueError(f"conditioning latent {cond.shape} must match the latent {x.shape[:-1]} with "
                             f"{self.cond_channels} channels")
        return out + self._conv(cond, kernel[..., self.in_channels:, :])
