"""The Movie Gen Video flow-matching transformer (paper §3.1): patchify, factorized PE, adaLN-single, scanned blocks.

Besides the text it takes the conditioning the systems built on it need (`Conditioning`): a latent concatenated on
channels before patchify (Edit, the upsampler), extra context tokens joined to the text tokens (Edit's task tokens,
PT2V's vision tokens) and a vector added to the timestep embedding (Edit's task embedding). Every input weight they add
starts at zero and the context tokens enter through a zero gate, so a child model initialised from a text-to-video run
(`train.init_from`) reproduces its parent's output bit for bit until training moves them. The same holds for the
optional conditioning skip (`model.cond_skip`): a zero-initialised map from the conditioning latent to the output.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from einops import rearrange
from flax import nnx

from mgjax.config.video import VideoModelConfig
from mgjax.models.video.block import VideoBlock
from mgjax.models.video.text_projection import TextProjection, pack_valid_first
from mgjax.nn.adaln import NUM_BLOCK_MODULATIONS, SharedModulation, modulate, modulation_table
from mgjax.nn.dtypes import dtype_of
from mgjax.nn.embeddings import FactorizedPositionalEmbedding, TimestepEmbedder
from mgjax.nn.linear import linear
from mgjax.nn.norms import RMSNorm
from mgjax.nn.patchify import PatchEmbed
from mgjax.nn.remat import remat_policy
from mgjax.nn.rope import rope_tables
from mgjax.parallel.rules import VIDEO_RULES, Rules
from mgjax.parallel.sharding import constrain


class Conditioning(NamedTuple):
    """Optional inputs beside the noisy latent, the flow time and the text (each needs its `VideoModelConfig` field)."""

    latent: jax.Array | None = None  # (b, t, h, w, cond_channels), concatenated to the noisy latent on channels
    context: tuple[tuple[jax.Array, jax.Array], ...] = ()  # per stream: tokens (b, k, context_widths[i]), mask (b, k)
    vector: jax.Array | None = None  # (b, time_cond_width), added to the timestep embedding
    frame_offset: jax.Array | None = None  # (b,) ints: first row of the temporal PE table (Edit's image edits, §5.2)


class Embedded(NamedTuple):
    """What the blocks take, from `MovieGenVideo.embed`."""

    x: jax.Array  # patch tokens (b, n, d)
    grid: tuple[int, int, int]  # patches along (t, h, w)
    pos: jax.Array  # absolute PE (n, d), or (b, n, d) with per-sample frame offsets; added at every layer
    rope: tuple[jax.Array, jax.Array] | None  # (cos, sin) (n, head_dim / 2) when `model.rope`
    t_emb: jax.Array  # timestep embedding (b, d)
    shared_mod: jax.Array  # shared adaLN modulation (b, 6, d)
    text: jax.Array  # packed text tokens (b, m, d)
    text_lengths: jax.Array  # (b,)
    joint: jax.Array | None = None  # text and context tokens packed together (b, m + k, d), when context is given
    joint_lengths: jax.Array | None = None  # (b,)


class MovieGenVideo(nnx.Module):
    """u_theta(X_t, P, t): latents (b, t, h, w, c), flow time t (b,) and encoder outputs -> velocity (b, t, h, w, c)."""

    def __init__(self, cfg: VideoModelConfig, text_widths: Sequence[int], *, rules: Rules = VIDEO_RULES,
                 rngs: nnx.Rngs):
        dtype, pd = dtype_of(cfg.dtype), dtype_of(cfg.param_dtype)
        kw = dict(dtype=dtype, param_dtype=pd, rngs=rngs)
        d = cfg.width
        self.patch_embed = PatchEmbed(cfg.in_channels, d, cfg.patch_size, cond_channels=cfg.cond_channels, dtype=dtype,
                                      param_dtype=pd, rngs=rngs)
        self.pos_embed = FactorizedPositionalEmbedding(d, cfg.max_patches, init_scale=cfg.pos_embed_init_scale,
                                                       param_dtype=pd, rngs=rngs)
        self.t_embed = TimestepEmbedder(d, cfg.timestep_freq_dim, **kw)
        self.shared_mod = SharedModulation(d, NUM_BLOCK_MODULATIONS, **kw)
        self.text_proj = nnx.List([TextProjection(w, d, **kw) for w in text_widths])
        if cfg.scan_layers:
            @nnx.split_rngs(splits=cfg.num_layers)
            @nnx.vmap(in_axes=(0,), out_axes=0, transform_metadata={nnx.PARTITION_NAME: None})
            def make_blocks(rngs: nnx.Rngs) -> VideoBlock:
                return VideoBlock(cfg, rules=rules, rngs=rngs)

            self.blocks = make_blocks(rngs)
        else:
            self.blocks = nnx.List([VideoBlock(cfg, rules=rules, rngs=rngs) for _ in range(cfg.num_layers)])
        self.final_norm = RMSNorm(d, eps=cfg.norm_eps, use_scale=False)
        self.final_modulation = modulation_table(d, 2, gate_rows=(), param_dtype=pd, rngs=rngs)
        out_dim = int(np.prod(cfg.patch_size)) * cfg.in_channels
        self.head = linear(d, out_dim, ("embed", None), init=nnx.initializers.zeros_init(), **kw)
        # Conditioning inputs (built last, and only when configured, so a model without them draws the same init).
        zero = dict(kw, init=nnx.initializers.zeros_init())
        self.context_proj = nnx.List([linear(w, d, ("text_embed", "embed"), **zero) for w in cfg.context_widths])
        self.time_cond = linear(cfg.time_cond_width, d, (None, "embed"), **zero) if cfg.time_cond_width else None
        patch = int(np.prod(cfg.patch_size))
        self.cond_skip = (linear(patch * cfg.cond_channels, out_dim, (None, None), **zero) if cfg.cond_skip else None)
        self.cfg = cfg
        self.rules = rules

    def encode_text(self, text: Sequence[tuple[jax.Array, jax.Array]]) -> tuple[jax.Array, jax.Array]:
        """[(b, m_i, d_i) encoder output, (b, m_i) mask] per encoder -> packed (b, sum m_i, d), lengths (b,)."""
        return self._pack(*self._project_text(text))

    def _project_text(self, text: Sequence[tuple[jax.Array, jax.Array]]) -> tuple[jax.Array, jax.Array]:
        if len(text) != len(self.text_proj):
            raise ValueError(f"expected {len(self.text_proj)} text encoder outputs, got {len(text)}")
        tokens = jnp.concatenate([proj(x.astype(proj.proj.dtype)) for proj, (x, _) in zip(self.text_proj, text)], 1)
        return tokens, jnp.concatenate([m.astype(bool) for _, m in text], axis=1)

    def _pack(self, tokens: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        tokens = constrain(tokens, ("batch", "text_seq", "act_embed"), self.rules)  # the gather below stays local
        tokens, lengths = pack_valid_first(tokens, mask)
        return constrain(tokens, ("batch", "text_seq", "act_embed"), self.rules), lengths

    def __call__(self, latents: jax.Array, t: jax.Array, text: Sequence[tuple[jax.Array, jax.Array]],
                 cond: Conditioning | None = None) -> jax.Array:
        cfg = self.cfg
        c = latents.shape[-1]
        pt, ph, pw = cfg.patch_size
        e = self.embed(latents, t, text, cond)
        grid = e.grid
        x = self._run_blocks(e)
        shift, scale = (self.final_modulation[...][None] + e.t_emb[:, None, :].astype(jnp.float32)).transpose(1, 0, 2)
        x = modulate(self.final_norm(x), shift.astype(x.dtype), scale.astype(x.dtype))
        out = self.head(x).astype(jnp.float32)
        out = rearrange(out, "b (t h w) (pt ph pw c) -> b (t pt) (h ph) (w pw) c", t=grid[0], h=grid[1], w=grid[2],
                        pt=pt, ph=ph, pw=pw, c=c)
        if self.cond_skip is None or cond is None or cond.latent is None:
            return out
        return out + (1.0 - t.astype(jnp.float32))[:, None, None, None, None] * self._skip(cond.latent)

    def _skip(self, cond_latent: jax.Array) -> jax.Array:
        """The conditioning latent's patches through `cond_skip` (times its gain), back at the latent's shape."""
        pt, ph, pw = self.cfg.patch_size
        patches = rearrange(cond_latent, "b (t pt) (h ph) (w pw) c -> b t h w (pt ph pw c)", pt=pt, ph=ph, pw=pw)
        out = self.cond_skip(patches.astype(self.cond_skip.dtype)).astype(jnp.float32) * self.cfg.cond_skip_gain
        return rearrange(out, "b t h w (pt ph pw c) -> b (t pt) (h ph) (w pw) c", pt=pt, ph=ph, pw=pw)

    def embed(self, latents: jax.Array, t: jax.Array, text: Sequence[tuple[jax.Array, jax.Array]],
              cond: Conditioning | None = None) -> Embedded:
        """Everything the blocks take (see `Embedded`)."""
        cond = cond or Conditioning()
        dtype = dtype_of(self.cfg.dtype)
        x = self.patch_embed(latents.astype(dtype), None if cond.latent is None else cond.latent.astype(dtype))
        grid = x.shape[1:4]  # (b, nt/pt, nh/ph, nw/pw, d)
        x = constrain(rearrange(x, "b t h w d -> b (t h w) d"), ("batch", "res_seq", "act_embed"), self.rules)
        t_emb = self.t_embed(t)
        if cond.vector is not None:
            if self.time_cond is None:
                raise ValueError("a conditioning vector needs model.time_cond_width > 0")
            t_emb = t_emb + self.time_cond(cond.vector.astype(self.time_cond.dtype))
        tokens, mask = self._project_text(text)
        text_tokens, text_lengths = self._pack(tokens, mask)
        joint = joint_lengths = None
        if cond.context:
            if len(cond.context) != len(self.context_proj):
                raise ValueError(f"expected {len(self.context_proj)} context streams, got {len(cond.context)}")
            extra = [proj(c.astype(proj.dtype)) for proj, (c, _) in zip(self.context_proj, cond.context)]
            joint, joint_lengths = self._pack(jnp.concatenate([tokens] + extra, axis=1),
                                              jnp.concatenate([mask] + [m.astype(bool) for _, m in cond.context], 1))
        rope = rope_tables(grid, self.cfg.width // self.cfg.num_heads, self.cfg.rope_theta) if self.cfg.rope else None
        pos = self.pos_embed(grid, cond.frame_offset)
        return Embedded(x, grid, pos, rope, t_emb, self.shared_mod(t_emb), text_tokens, text_lengths, joint,
                        joint_lengths)

    def _run_blocks(self, e: Embedded) -> jax.Array:
        def body(x, block):
            return block(x, e.pos, e.shared_mod, e.text, e.text_lengths, rope=e.rope, joint=e.joint,
                         joint_lengths=e.joint_lengths)

        policy = remat_policy(self.cfg.remat)
        if policy is not None:
            body = nnx.remat(body, policy=policy)
        if self.cfg.scan_layers:
            scan = nnx.scan(body, in_axes=(nnx.Carry, 0), out_axes=nnx.Carry,
                            transform_metadata={nnx.PARTITION_NAME: None})
            return scan(e.x, self.blocks)
        x = e.x
        for block in self.blocks:
            x = body(x, block)
        return x
