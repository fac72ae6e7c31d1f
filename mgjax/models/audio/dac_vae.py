"""The DAC-VAE (paper §6): the Descript Audio Codec's encoder and decoder around a VAE bottleneck.

Audio is channels-last, (b, n, 1) in [-1, 1]; latents are (b, n / hop, c). Layers follow DAC (descript-audio-codec
`dac/model/dac.py`, `dac/nn/layers.py`) so its weights convert (`mgjax/convert/dac.py`):

- every conv is weight-normalised and stores DAC's g and v: w = g v / |v|, the norm over all axes but torch's dim 0
  (a conv's output channel, a transposed conv's input channel). v is kept in JAX layout (k, in, out);
- Snake: x + sin(alpha x)^2 / (alpha + 1e-9), alpha learnable per channel;
- a residual unit: Snake, conv k=7 dilated, Snake, conv k=1, plus the input (same length: padding 3 x dilation);
- an encoder block: residual units (dilations 1, 3, 9) at half width, Snake, conv k=2s stride s padding ceil(s/2);
- a decoder block: Snake, transposed conv k=2s stride s padding ceil(s/2), residual units at the output width;
- encoder: conv k=7 to `encoder_dim`, the blocks (width doubling), Snake, conv k=3 to 2 x latent channels (the mean
  and the log-variance; DAC's quantiser sat here); decoder: conv k=7 from the latent to `decoder_dim`, the blocks
  (width halving), Snake, conv k=7 to 1 channel, tanh.

Initialisation is what DAC's torch modules start with: torch's default for v (uniform, bound 1 / sqrt(fan_in)), g the
norm of v (so w = v), conv biases zero (DAC's init_weights; the transposed convs keep torch's uniform bias).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.audio import DACVAEConfig
from mgjax.config.geometry import audio_hop, audio_latent_frames
from mgjax.nn.params import param
from mgjax.parallel.rules import DAC_VAE_RULES, Rules, use_rules


def _uniform(bound: float):
    return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -bound, bound)


class WNConv1d(nnx.Module):
    """A weight-normalised 1-D conv with zero padding (torch's Conv1d under weight_norm). Transposed: torch's
    ConvTranspose1d (output length (n - 1) s + k - 2 padding)."""

    def __init__(self, cin: int, cout: int, kernel: int, *, stride: int = 1, dilation: int = 1, padding: int = 0,
                 transposed: bool = False, dtype=jnp.float32, param_dtype=jnp.float32, rngs: nnx.Rngs):
        # torch takes fan_in from weight.size(1) x k: cin for a conv, cout for a transposed one (weight (in, out, k))
        bound = 1.0 / math.sqrt((cout if transposed else cin) * kernel)
        self.norm_axes = (0, 2) if transposed else (0, 1)
        self.v = param(_uniform(bound), (kernel, cin, cout), (None, "conv_in", "conv_out"), key=rngs.params(),
                       dtype=param_dtype)
        v = self.v[...]
        self.g = param(lambda *_: jnp.sqrt(jnp.sum(jnp.square(v), axis=self.norm_axes)), (cin if transposed else cout,),
                       ("conv_in" if transposed else "conv_out",), dtype=param_dtype)
        bias_init = _uniform(bound) if transposed else nnx.initializers.zeros_init()
        self.bias = param(bias_init, (cout,), ("conv_out",), key=rngs.params(), dtype=param_dtype)
        self.kernel, self.stride, self.dilation, self.padding = kernel, stride, dilation, padding
        self.transposed, self.dtype = transposed, dtype

    def weight(self) -> jax.Array:
        v = self.v[...].astype(jnp.float32)
        norm = jnp.sqrt(jnp.sum(jnp.square(v), axis=self.norm_axes, keepdims=True))
        g = jnp.expand_dims(self.g[...].astype(jnp.float32), self.norm_axes)
        return g * v / norm

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.weight().astype(self.dtype)
        x = x.astype(self.dtype)
        dims = ("NWC", "WIO", "NWC")
        if self.transposed:
            # A transposed conv is a conv over the input dilated by the stride, with the kernel flipped.
            edge = self.kernel - 1 - self.padding
            y = jax.lax.conv_general_dilated(x, w[::-1], (1,), [(edge, edge)], lhs_dilation=(self.stride,),
                                             dimension_numbers=dims)
        else:
            y = jax.lax.conv_general_dilated(x, w, (self.stride,), [(self.padding, self.padding)],
                                             rhs_dilation=(self.dilation,), dimension_numbers=dims)
        return y + self.bias[...].astype(self.dtype)


class Snake(nnx.Module):
    """x + sin(alpha x)^2 / (alpha + 1e-9) with a learnable alpha per channel (DAC's Snake1d; alpha starts at 1)."""

    def __init__(self, channels: int, *, param_dtype=jnp.float32):
        self.alpha = param(nnx.initializers.ones_init(), (channels,), ("conv_out",), dtype=param_dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        alpha = self.alpha[...].astype(x.dtype)
        return x + jnp.square(jnp.sin(alpha * x)) / (alpha + 1e-9)


class ResidualUnit(nnx.Module):
    def __init__(self, dim: int, dilation: int, kernel: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.snake1 = Snake(dim, param_dtype=param_dtype)
        self.conv1 = WNConv1d(dim, dim, kernel, dilation=dilation, padding=(kernel - 1) * dilation // 2, **kw)
        self.snake2 = Snake(dim, param_dtype=param_dtype)
        self.conv2 = WNConv1d(dim, dim, 1, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x + self.conv2(self.snake2(self.conv1(self.snake1(x))))


class EncoderBlock(nnx.Module):
    def __init__(self, dim: int, stride: int, cfg: DACVAEConfig, *, rngs: nnx.Rngs):
        kw = dict(dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        self.res_units = nnx.List([ResidualUnit(dim // 2, d, cfg.residual_kernel, **kw) for d in cfg.dilations])
        self.snake = Snake(dim // 2, param_dtype=cfg.param_dtype)
        self.conv = WNConv1d(dim // 2, dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2), **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        for unit in self.res_units:
            x = unit(x)
        return self.conv(self.snake(x))


class DecoderBlock(nnx.Module):
    def __init__(self, cin: int, cout: int, stride: int, cfg: DACVAEConfig, *, rngs: nnx.Rngs):
        kw = dict(dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        self.snake = Snake(cin, param_dtype=cfg.param_dtype)
        self.conv = WNConv1d(cin, cout, 2 * stride, stride=stride, padding=math.ceil(stride / 2), transposed=True,
                             **kw)
        self.res_units = nnx.List([ResidualUnit(cout, d, cfg.residual_kernel, **kw) for d in cfg.dilations])

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv(self.snake(x))
        for unit in self.res_units:
            x = unit(x)
        return x


class DACEncoder(nnx.Module):
    def __init__(self, cfg: DACVAEConfig, *, rngs: nnx.Rngs):
        kw = dict(dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        dim = cfg.encoder_dim
        self.conv_in = WNConv1d(1, dim, 7, padding=3, **kw)
        blocks = []
        for stride in cfg.strides:
            dim *= 2
            blocks.append(EncoderBlock(dim, stride, cfg, rngs=rngs))
        self.blocks = nnx.List(blocks)
        self.snake = Snake(dim, param_dtype=cfg.param_dtype)
        self.conv_out = WNConv1d(dim, 2 * cfg.latent_channels, 3, padding=1, **kw)

    def __call__(self, audio: jax.Array) -> jax.Array:
        """(b, n, 1) with n a multiple of the hop -> (b, n / hop, 2 x latent channels): the mean, then the log-variance
        (DAC's encoder output before its quantiser)."""
        x = self.conv_in(audio)
        for block in self.blocks:
            x = block(x)
        return self.conv_out(self.snake(x))


class DACDecoder(nnx.Module):
    def __init__(self, cfg: DACVAEConfig, *, rngs: nnx.Rngs):
        kw = dict(dtype=cfg.dtype, param_dtype=cfg.param_dtype, rngs=rngs)
        dim = cfg.decoder_dim
        self.conv_in = WNConv1d(cfg.latent_channels, dim, 7, padding=3, **kw)
        blocks = []
        for i, stride in enumerate(reversed(cfg.strides)):
            blocks.append(DecoderBlock(dim // 2 ** i, dim // 2 ** (i + 1), stride, cfg, rngs=rngs))
        self.blocks = nnx.List(blocks)
        out_dim = dim // 2 ** len(cfg.strides)
        self.snake = Snake(out_dim, param_dtype=cfg.param_dtype)
        self.conv_out = WNConv1d(out_dim, 1, 7, padding=3, **kw)

    def __call__(self, z: jax.Array) -> jax.Array:
        """(b, m, latent channels) -> (b, m x hop, 1) in [-1, 1]."""
        x = self.conv_in(z)
        for block in self.blocks:
            x = block(x)
        return jnp.tanh(self.conv_out(self.snake(x)))


class DACVAE(nnx.Module):
    """Encoder, diagonal-Gaussian bottleneck, decoder. `encode` returns the mean and log-variance; `decode` the audio
    of a latent; lengths follow `audio_latent_frames` (the end is zero-padded to a multiple of the hop)."""

    def __init__(self, cfg: DACVAEConfig, *, rules: Rules = DAC_VAE_RULES, rngs: nnx.Rngs):
        if cfg.decoder_dim % 2 ** len(cfg.strides):
            raise ValueError(f"decoder_dim {cfg.decoder_dim} must be divisible by 2^{len(cfg.strides)} (one halving "
                             "per upsampling block)")
        self.cfg = cfg
        self.hop = audio_hop(cfg.strides)
        with use_rules(rules):
            self.encoder = DACEncoder(cfg, rngs=rngs)
            self.decoder = DACDecoder(cfg, rngs=rngs)

    def pad(self, audio: jax.Array) -> jax.Array:
        n = audio.shape[1]
        return jnp.pad(audio, ((0, 0), (0, audio_latent_frames(n, self.hop) * self.hop - n), (0, 0)))

    def encode(self, audio: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(b, n, 1) -> mean, log-variance, each (b, ceil(n / hop), latent channels), in float32."""
        moments = self.encoder(self.pad(audio)).astype(jnp.float32)
        mean, logvar = jnp.split(moments, 2, axis=-1)
        return mean, jnp.clip(logvar, -30.0, 20.0)

    def decode(self, z: jax.Array, num_samples: int | None = None) -> jax.Array:
        audio = self.decoder(z)
        return audio if num_samples is None else audio[:, :num_samples]

    def __call__(self, audio: jax.Array, key: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Reconstruction (sampling the posterior when `key` is given, else its mean), mean, log-variance."""
        mean, logvar = self.encode(audio)
        z = mean if key is None else mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
        return self.decode(z, audio.shape[1]), mean, logvar
