"""A PatchGAN discriminator (pix2pix / taming-transformers' NLayerDiscriminator) applied to every frame.

The paper names a discriminator loss but not its network; this is the LDM autoencoder's, run per frame (time folded
into the batch). GroupNorm replaces BatchNorm so the discriminator has no batch statistics to carry in the train state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.nn.params import partitioned


def _conv(cin: int, cout: int, stride: int, rngs: nnx.Rngs, use_bias: bool) -> nnx.Conv:
    return nnx.Conv(cin, cout, kernel_size=(4, 4), strides=(stride, stride), padding=((1, 1), (1, 1)),
                    use_bias=use_bias, rngs=rngs,
                    kernel_init=partitioned(nnx.initializers.normal(0.02), (None, None, "conv_in", "conv_out")),
                    bias_init=partitioned(nnx.initializers.zeros_init(), ("conv_out",)))


class PatchDiscriminator(nnx.Module):
    """frames (n, h, w, 3) -> patch logits (n, h', w', 1); a video (b, t, h, w, 3) is judged frame by frame."""

    def __init__(self, channels: int = 64, num_layers: int = 3, *, rngs: nnx.Rngs):
        convs, norms = [_conv(3, channels, 2, rngs, True)], [None]
        width = channels
        for i in range(1, num_layers + 1):
            out = channels * min(2 ** i, 8)
            convs.append(_conv(width, out, 2 if i < num_layers else 1, rngs, False))
            norms.append(nnx.GroupNorm(out, num_groups=min(32, out), rngs=rngs,
                                       scale_init=partitioned(nnx.initializers.ones_init(), ("conv_out",)),
                                       bias_init=partitioned(nnx.initializers.zeros_init(), ("conv_out",))))
            width = out
        convs.append(_conv(width, 1, 1, rngs, True))
        self.convs = nnx.List(convs)
        self.norms = nnx.List(norms)

    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim == 5:
            x = x.reshape(-1, *x.shape[2:])
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                if self.norms[i] is not None:
                    x = self.norms[i](x)
                x = jax.nn.leaky_relu(x, 0.2)
        return x.astype(jnp.float32)
