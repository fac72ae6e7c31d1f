"""One Movie Gen Video transformer block (paper §3.1.3, v1 Table 1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from mgjax.config.video import VideoModelConfig
from mgjax.nn.adaln import NUM_BLOCK_MODULATIONS, modulate, modulation_table
from mgjax.nn.attention import MultiHeadAttention
from mgjax.nn.dtypes import dtype_of
from mgjax.nn.mlp import SwiGLU
from mgjax.nn.norms import RMSNorm
from mgjax.nn.params import param
from mgjax.parallel.rules import Rules
from mgjax.parallel.sharding import constrain


class VideoBlock(nnx.Module):
    """x += PE; RMSNorm -> adaLN -> self-attention -> gated residual; cross-attention to the text -> residual;
    RMSNorm -> adaLN -> SwiGLU -> gated residual. No biases anywhere."""

    def __init__(self, cfg: VideoModelConfig, *, rules: Rules, rngs: nnx.Rngs):
        kw = dict(dtype=dtype_of(cfg.dtype), param_dtype=dtype_of(cfg.param_dtype), rngs=rngs)
        attn_kw = dict(rules=rules, qk_norm=cfg.qk_norm, eps=cfg.norm_eps, implementation=cfg.attention,
                       context_parallel=cfg.context_parallel, **kw)
        pd = dtype_of(cfg.param_dtype)
        # Scale-free norms: adaLN supplies the scale.
        self.attn_norm = RMSNorm(cfg.width, eps=cfg.norm_eps, use_scale=False)
        self.self_attn = MultiHeadAttention(cfg.width, cfg.num_heads, **attn_kw)
        self.cross_norm = RMSNorm(cfg.width, eps=cfg.norm_eps, param_dtype=pd) if cfg.cross_attention_norm else None
        self.cross_attn = MultiHeadAttention(cfg.width, cfg.num_heads, **attn_kw)
        self.mlp_norm = RMSNorm(cfg.width, eps=cfg.norm_eps, use_scale=False)
        self.mlp = SwiGLU(cfg.width, cfg.ffn_width, rules=rules, **kw)
        self.modulation = modulation_table(cfg.width, NUM_BLOCK_MODULATIONS, gate_rows=(2, 5), param_dtype=pd,
                                           rngs=rngs)
        # Per head, how far the cross-attention moves from the text alone towards the text and context tokens in one
        # softmax (1: the paper's concatenation); zero at init, so a child starts as its text-to-video parent.
        self.context_gate = (param(nnx.initializers.zeros_init(), (cfg.num_heads,), (None,), dtype=pd)
                             if cfg.context_widths else None)
        self.rules = rules

    def __call__(self, x: jax.Array, pos: jax.Array, shared_mod: jax.Array, text: jax.Array,
                 text_lengths: jax.Array, rope: tuple[jax.Array, jax.Array] | None = None,
                 joint: jax.Array | None = None, joint_lengths: jax.Array | None = None) -> jax.Array:
        """x: (b, n, d); pos: (n, d) or (b, n, d); shared_mod: (b, 6, d) from the shared timestep MLP; text: (b, m, d)
        packed with valid tokens first; text_lengths: (b,); rope: optional (cos, sin) for the self-attention
        (`model.rope`); joint,
        joint_lengths: the text and context tokens packed together, when context tokens are given."""
        x = x + pos.astype(x.dtype)  # (n, d), or (b, n, d) with per-sample temporal offsets
        mod = self._modulations(shared_mod, x.dtype)
        shift1, scale1, gate1, shift2, scale2, gate2 = (mod[:, i] for i in range(NUM_BLOCK_MODULATIONS))
        h = self.self_attn(modulate(self.attn_norm(x), shift1, scale1), rope=rope)
        x = x + gate1[:, None, :] * checkpoint_name(h, "attn_out")
        c = x if self.cross_norm is None else self.cross_norm(x)
        if joint is None:  # no context tokens given (the backbone refuses streams it has no gate and projection for)
            cross = self.cross_attn(c, context=text, kv_lengths=text_lengths)
        else:
            cross = self.cross_attn.gated_joint(c, text, text_lengths, joint, joint_lengths, self.context_gate[...])
        x = x + checkpoint_name(cross, "cross_out")
        h = self.mlp(modulate(self.mlp_norm(x), shift2, scale2))
        x = x + gate2[:, None, :] * checkpoint_name(h, "mlp_out")
        return constrain(x, ("batch", "res_seq", "act_embed"), self.rules)

    def self_attention_weights(self, x: jax.Array, shared_mod: jax.Array, rope=None) -> jax.Array:
        """Diagnostics: the self-attention weights (b, heads, n, n) for a block input x that already holds the PE."""
        mod = self._modulations(shared_mod, x.dtype)
        return self.self_attn.attention_weights(modulate(self.attn_norm(x), mod[:, 0], mod[:, 1]), rope=rope)

    def _modulations(self, shared_mod: jax.Array, dtype) -> jax.Array:
        return (shared_mod.astype(jnp.float32) + self.modulation[...][None]).astype(dtype)
