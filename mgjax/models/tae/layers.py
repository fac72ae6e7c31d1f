"""2.5D building blocks of the TAE (paper §3.1.1): a 2D spatial conv followed by a 1D temporal conv.

Videos are channels-last (b, t, h, w, c). Spatial layers see every frame on its own (time folded into the batch), so an
image autoencoder's weights apply unchanged; temporal layers pad time symmetrically by replicating the edge frames.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from einops import rearrange
from flax import nnx

from mgjax.config.geometry import frames_after_stride
from mgjax.models.tae.frame_context import current_view, group_norm_moments
from mgjax.nn.params import param, partitioned


def fold_time(x: jax.Array) -> jax.Array:
    return rearrange(x, "b t h w c -> (b t) h w c")


def unfold_time(x: jax.Array, batch: int) -> jax.Array:
    return rearrange(x, "(b t) h w c -> b t h w c", b=batch)


class GroupNorm(nnx.Module):
    """GroupNorm per frame (statistics over h, w and the group's channels), in float32. Inside a spatially tiled pass
    (frame_context.py) the statistics are the whole frame's, gathered by the previous pass."""

    def __init__(self, channels: int, num_groups: int, *, rngs: nnx.Rngs):
        self.norm = nnx.GroupNorm(channels, num_groups=min(num_groups, channels), epsilon=1e-6, rngs=rngs,
                                  scale_init=partitioned(nnx.initializers.ones_init(), ("conv_out",)),
                                  bias_init=partitioned(nnx.initializers.zeros_init(), ("conv_out",)))

    def __call__(self, x: jax.Array) -> jax.Array:
        b = x.shape[0]
        y = fold_time(x).astype(jnp.float32)
        view = current_view()
        if view is None:
            return unfold_time(self.norm(y), b).astype(x.dtype)
        norm, (n, h, w, c) = self.norm, y.shape
        mean, var = group_norm_moments(view, y, norm.num_groups)
        yg = y.reshape(n, h, w, norm.num_groups, c // norm.num_groups)
        yg = (yg - mean[:, None, None, :, None]) * jax.lax.rsqrt(var + norm.epsilon)[:, None, None, :, None]
        y = yg.reshape(n, h, w, c) * norm.scale[...].astype(jnp.float32) + norm.bias[...].astype(jnp.float32)
        return unfold_time(y, b).astype(x.dtype)


class SpatialConv(nnx.Module):
    """A k x k conv applied to each frame; stride 2 halves h and w (LDM's asymmetric (0, 1) padding)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, *, dtype, param_dtype,
                 rngs: nnx.Rngs):
        padding = "SAME" if stride == 1 else "VALID"
        self.conv = nnx.Conv(cin, cout, kernel_size=(kernel, kernel), strides=(stride, stride), padding=padding,
                             dtype=dtype, param_dtype=param_dtype, rngs=rngs,
                             kernel_init=partitioned(nnx.initializers.lecun_normal(),
                                                     (None, None, "conv_in", "conv_out")),
                             bias_init=partitioned(nnx.initializers.zeros_init(), ("conv_out",)))
        self.stride = stride

    def __call__(self, x: jax.Array) -> jax.Array:
        b = x.shape[0]
        y = fold_time(x)
        if self.stride > 1:
            y = jnp.pad(y, ((0, 0), (0, 1), (0, 1), (0, 0)))
        return unfold_time(self.conv(y), b)


class TemporalConv(nnx.Module):
    """A 1D conv over time with symmetric replicate padding; stride s keeps ceil(t / s) frames.

    With `identity_init` (and cin == cout) the centre tap is the identity and the others zero, so the layer starts as a
    no-op (stride 2 then keeps every other frame)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, identity_init: bool = True, *,
                 dtype, param_dtype, rngs: nnx.Rngs):
        if kernel % 2 == 0:
            raise ValueError(f"temporal kernel must be odd for symmetric padding, got {kernel}")
        if identity_init and cin == cout:
            def init(key, shape, dt):
                return jnp.zeros(shape, dt).at[kernel // 2].set(jnp.eye(cin, dtype=dt))
        else:
            init = nnx.initializers.lecun_normal(in_axis=(0, 1), out_axis=2)
        self.kernel = param(init, (kernel, cin, cout), (None, "conv_in", "conv_out"), key=rngs.params(),
                            dtype=param_dtype)
        self.bias = param(nnx.initializers.zeros_init(), (cout,), ("conv_out",), dtype=param_dtype)
        self.size, self.stride, self.dtype = kernel, stride, dtype

    def __call__(self, x: jax.Array, kernel: jax.Array | None = None) -> jax.Array:
        """`kernel` replaces the layer's own (to differentiate a loss with respect to it alone)."""
        k, s = self.size, self.stride
        pad = k // 2
        frames = frames_after_stride(x.shape[1], s)
        x = jnp.pad(x.astype(self.dtype), ((0, 0), (pad, pad), (0, 0), (0, 0), (0, 0)), mode="edge")
        w = (self.kernel[...] if kernel is None else kernel).astype(self.dtype)
        # A sum of k strided matmuls: no transposes, and as fast as a conv for a short kernel on every backend.
        out = sum(jnp.einsum("bthwc,cd->bthwd", x[:, i:i + s * (frames - 1) + 1:s], w[i]) for i in range(k))
        return out + self.bias[...].astype(self.dtype)


class Conv25D(nnx.Module):
    """Spatial k x k conv, then a temporal conv (paper: "a 1D temporal conv after each 2D spatial conv")."""

    def __init__(self, cin: int, cout: int, *, temporal_kernel: int, identity_init: bool, dtype, param_dtype,
                 rngs: nnx.Rngs, kernel: int = 3):
        self.spatial = SpatialConv(cin, cout, kernel, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.temporal = TemporalConv(cout, cout, temporal_kernel, 1, identity_init, dtype=dtype,
                                     param_dtype=param_dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.temporal(self.spatial(x))


class ResBlock(nnx.Module):
    """GroupNorm -> SiLU -> 2.5D conv, twice, plus a (1x1 projected) skip."""

    def __init__(self, cin: int, cout: int, *, num_groups: int, temporal_kernel: int, identity_init: bool, dtype,
                 param_dtype, rngs: nnx.Rngs):
        kw = dict(temporal_kernel=temporal_kernel, identity_init=identity_init, dtype=dtype, param_dtype=param_dtype,
                  rngs=rngs)
        self.norm1 = GroupNorm(cin, num_groups, rngs=rngs)
        self.conv1 = Conv25D(cin, cout, **kw)
        self.norm2 = GroupNorm(cout, num_groups, rngs=rngs)
        self.conv2 = Conv25D(cout, cout, **kw)
        self.skip = (SpatialConv(cin, cout, 1, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
                     if cin != cout else None)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        h = self.conv2(jax.nn.silu(self.norm2(h)))
        return (x if self.skip is None else self.skip(x)) + h


class Downsample(nnx.Module):
    """Halve h and w with a stride-2 conv; with `temporal`, also halve t (rounding up) with a stride-2 temporal conv."""

    def __init__(self, channels: int, temporal: bool, *, temporal_kernel: int, identity_init: bool, dtype,
                 param_dtype, rngs: nnx.Rngs):
        self.spatial = SpatialConv(channels, channels, 3, 2, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.temporal = (TemporalConv(channels, channels, temporal_kernel, 2, identity_init, dtype=dtype,
                                      param_dtype=param_dtype, rngs=rngs) if temporal else None)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.spatial(x)
        return x if self.temporal is None else self.temporal(x)


class Upsample(nnx.Module):
    """Nearest-neighbour 2x in h and w, then a conv; with `temporal`, nearest 2x in t, then a temporal conv."""

    def __init__(self, channels: int, temporal: bool, *, temporal_kernel: int, identity_init: bool, dtype,
                 param_dtype, rngs: nnx.Rngs):
        self.spatial = SpatialConv(channels, channels, 3, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.temporal = (TemporalConv(channels, channels, temporal_kernel, 1, identity_init, dtype=dtype,
                                      param_dtype=param_dtype, rngs=rngs) if temporal else None)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.spatial(jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3))
        if self.temporal is not None:
            x = self.temporal(jnp.repeat(x, 2, axis=1))
        return x
