"""The Movie Gen temporal autoencoder (paper §3.1.1): RGB video or image <-> (t/8, h/8, w/8, 16) latents.

Frame counts (mgjax/config/geometry.py): every stride-2 temporal conv keeps ceil(t / 2) frames, so a clip of t
frames encodes to ceil(t / ft) latent frames (ft = 8 for the paper: 1 frame -> 1, 9..16 -> 2, 256 -> 32) and t'
latent frames decode to ft * t' frames. `decode(z, num_frames)` keeps the first `num_frames` and discards the
spurious rest (paper: "spurious" extra output frames are discarded), so encode -> decode returns the input's length
for any t, including an image.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.tae import TAEConfig
from mgjax.models.tae.attention import SpatialAttention, TemporalAttention
from mgjax.models.tae.frame_context import tile_checkpoint
from mgjax.models.tae.layers import Conv25D, Downsample, GroupNorm, ResBlock, Upsample
from mgjax.nn.dtypes import dtype_of
from mgjax.parallel.rules import TAE_RULES, Rules, use_rules


def _kw(cfg: TAEConfig, rngs: nnx.Rngs) -> dict:
    return dict(dtype=dtype_of(cfg.dtype), param_dtype=dtype_of(cfg.param_dtype), rngs=rngs)


def _res_kw(cfg: TAEConfig, rngs: nnx.Rngs) -> dict:
    return dict(num_groups=cfg.num_groups, temporal_kernel=cfg.temporal_kernel,
                identity_init=cfg.temporal_identity_init, **_kw(cfg, rngs))


class MidBlock(nnx.Module):
    """ResBlock -> spatial attention -> temporal attention -> ResBlock."""

    def __init__(self, cfg: TAEConfig, channels: int, *, rngs: nnx.Rngs):
        self.res1 = ResBlock(channels, channels, **_res_kw(cfg, rngs))
        if cfg.mid_attention:
            self.spatial_attn = SpatialAttention(channels, cfg.num_groups, **_kw(cfg, rngs))
            self.temporal_attn = (TemporalAttention(channels, cfg.num_groups, cfg.temporal_identity_init,
                                                    **_kw(cfg, rngs)) if cfg.temporal_attention else None)
        else:
            self.spatial_attn = self.temporal_attn = None
        self.res2 = ResBlock(channels, channels, **_res_kw(cfg, rngs))

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.res1(x)
        if self.spatial_attn is not None:
            x = self.spatial_attn(x)
        if self.temporal_attn is not None:
            x = self.temporal_attn(x)
        return self.res2(x)


class Encoder(nnx.Module):
    """(b, t, h, w, 3) -> (b, t', h', w', 2 * latent): the posterior's mean and log-variance."""

    def __init__(self, cfg: TAEConfig, *, rngs: nnx.Rngs):
        widths = [cfg.base_channels * m for m in cfg.channel_mult]
        conv_kw = dict(temporal_kernel=cfg.temporal_kernel, identity_init=cfg.temporal_identity_init,
                       **_kw(cfg, rngs))
        self.conv_in = Conv25D(3, widths[0], **conv_kw)
        blocks, cin = [], widths[0]
        for level, width in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResBlock(cin, width, **_res_kw(cfg, rngs)))
                cin = width
            if level < len(widths) - 1:
                blocks.append(Downsample(width, cfg.temporal_downsample[level], **conv_kw))
        self.down = nnx.List(blocks)
        self.mid = MidBlock(cfg, cin, rngs=rngs)
        self.norm_out = GroupNorm(cin, cfg.num_groups, rngs=rngs)
        self.conv_out = Conv25D(cin, 2 * cfg.latent_channels, **conv_kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv_in(x)
        for block in self.down:
            x = block(x)
        x = self.mid(tile_checkpoint(x))
        return self.conv_out(jax.nn.silu(self.norm_out(x))).astype(jnp.float32)


class Decoder(nnx.Module):
    """(b, t', h', w', latent) -> (b, ft * t', fh * h', fw * w', 3)."""

    def __init__(self, cfg: TAEConfig, *, rngs: nnx.Rngs):
        widths = [cfg.base_channels * m for m in cfg.channel_mult]
        conv_kw = dict(temporal_kernel=cfg.temporal_kernel, identity_init=cfg.temporal_identity_init,
                       **_kw(cfg, rngs))
        cin = widths[-1]
        self.conv_in = Conv25D(cfg.latent_channels, cin, **conv_kw)
        self.mid = MidBlock(cfg, cin, rngs=rngs)
        blocks = []
        for level in reversed(range(len(widths))):
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResBlock(cin, widths[level], **_res_kw(cfg, rngs)))
                cin = widths[level]
            if level > 0:
                blocks.append(Upsample(cin, cfg.temporal_downsample[level - 1], **conv_kw))
        self.up = nnx.List(blocks)
        self.norm_out = GroupNorm(cin, cfg.num_groups, rngs=rngs)
        self.conv_out = Conv25D(cin, 3, **conv_kw)
        self.dtype = dtype_of(cfg.dtype)

    def features(self, z: jax.Array) -> jax.Array:
        """Everything before the last layer (conv_out's temporal conv), whose weights balance the GAN loss."""
        x = tile_checkpoint(self.mid(self.conv_in(z.astype(self.dtype))))
        for block in self.up:
            x = block(x)
        return self.conv_out.spatial(jax.nn.silu(self.norm_out(x)))

    def last_layer(self, features: jax.Array, kernel: jax.Array | None = None) -> jax.Array:
        return self.conv_out.temporal(features, kernel).astype(jnp.float32)

    def __call__(self, z: jax.Array) -> jax.Array:
        return self.last_layer(self.features(z))


class TemporalAutoencoder(nnx.Module):
    """A variational autoencoder: `encode` gives the posterior (mean, log-variance), `decode` maps latents back."""

    def __init__(self, cfg: TAEConfig, *, rules: Rules = TAE_RULES, rngs: nnx.Rngs):
        if len(cfg.temporal_downsample) != len(cfg.channel_mult) - 1:
            raise ValueError(f"temporal_downsample needs one entry per downsampling level "
                             f"({len(cfg.channel_mult) - 1}), got {len(cfg.temporal_downsample)}")
        with use_rules(rules):
            self.encoder = Encoder(cfg, rngs=rngs)
            self.decoder = Decoder(cfg, rngs=rngs)
        self.cfg = cfg

    def encode(self, video: jax.Array) -> tuple[jax.Array, jax.Array]:
        """video (b, t, h, w, 3) in [-1, 1] -> mean, log-variance, each (b, t', h', w', latent)."""
        moments = self.encoder(video)
        mean, logvar = jnp.split(moments, 2, axis=-1)
        return mean, jnp.clip(logvar, -30.0, 20.0)

    def decode(self, z: jax.Array, num_frames: int | None = None) -> jax.Array:
        """latents (b, t', h', w', latent) -> video (b, num_frames or ft * t', h, w, 3)."""
        video = self.decoder(z)
        return video if num_frames is None else video[:, :num_frames]

    def __call__(self, video: jax.Array, key: jax.Array | None = None):
        """Reconstruct: -> (video, mean, logvar, z). With a key, z is a sample of the posterior; without, its mean."""
        mean, logvar = self.encode(video)
        z = mean if key is None else mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)
        return self.decode(z, video.shape[1]), mean, logvar, z
