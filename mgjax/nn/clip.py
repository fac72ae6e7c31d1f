"""The transformer layer of CLIP's text and vision towers: pre-LayerNorm attention and MLP, with biases (Hugging Face's
parameter names, so `mgjax.convert.clip` maps keys one to one)."""

from __future__ import annotations

import jax
from einops import rearrange
from flax import nnx

from mgjax.attention.sharded import sharded_attend
from mgjax.nn.activations import activation
from mgjax.nn.linear import linear
from mgjax.nn.norms import LayerNorm
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain

_normal = nnx.initializers.normal


class CLIPLayer(nnx.Module):
    def __init__(self, width: int, num_heads: int, ffn_width: int, act: str, eps: float, *, rules: Rules, dtype,
                 param_dtype, rngs: nnx.Rngs):
        kw = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs, use_bias=True)
        self.norm1 = LayerNorm(width, eps=eps, param_dtype=param_dtype)
        self.q = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.k = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.v = linear(width, width, ("embed", "heads"), init=_normal(width ** -0.5), **kw)
        self.o = linear(width, width, ("heads", "embed"), init=_normal(width ** -0.5), **kw)
        self.norm2 = LayerNorm(width, eps=eps, param_dtype=param_dtype)
        self.fc1 = linear(width, ffn_width, ("embed", "mlp"), init=_normal(width ** -0.5), **kw)
        self.fc2 = linear(ffn_width, width, ("mlp", "embed"), init=_normal(ffn_width ** -0.5), **kw)
        self.num_heads = num_heads
        self.act = activation(act)
        self.rules = rules

    def __call__(self, x: jax.Array, lengths: jax.Array | None, causal: bool) -> jax.Array:
        h = self.norm1(x)
        split = lambda t: rearrange(t, "b n (h d) -> b n h d", h=self.num_heads)
        a = sharded_attend(split(self.q(h)), split(self.k(h)), split(self.v(h)), rules=self.rules, seq_axis="text_seq",
                           self_attention=True, kv_lengths=lengths, causal=causal)
        x = x + self.o(rearrange(a, "b n h d -> b n (h d)"))
        h = constrain(self.act(self.fc1(self.norm2(x))), ("batch", "text_seq", "act_mlp"), self.rules)
        return x + self.fc2(h)


def clip_layers(n: int, *args, **kwargs) -> nnx.List:
    return nnx.List([CLIPLayer(*args, **kwargs) for _ in range(n)])
