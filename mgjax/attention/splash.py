"""Pallas splash attention on TPU (`jax.experimental.pallas.ops.tpu.splash_attention`): a blocked flash kernel that
skips fully masked blocks. It runs per device: on a mesh it is called inside `shard_map` (attention/sharded.py),
because XLA cannot partition a Pallas call. On CPU it runs only in interpret mode (the tests use that)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

LANES = 128  # TPU vector lanes: sequence blocks must be multiples of this
BLOCK_CHOICES = (512, 256, 128)  # largest first; 512 is MaxText's default for long sequences


def supports(q: jax.Array, k: jax.Array, bias: jax.Array | None) -> bool:
    """Splash needs sequence lengths that split into 128-multiples and no additive bias (masks only)."""
    return bias is None and q.shape[1] % LANES == 0 and k.shape[1] % LANES == 0


def _block(length: int) -> int:
    return next(b for b in BLOCK_CHOICES if length % b == 0)


@functools.lru_cache(maxsize=64)
def _kernel(num_heads: int, q_len: int, kv_len: int, causal: bool, interpret: bool):
    # optional: the TPU Pallas kernel is imported only when a TPU program (or its interpreter test) asks for it
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as sm

    one = sm.CausalMask((q_len, kv_len)) if causal else sm.FullMask((q_len, kv_len))
    bq, bkv = _block(q_len), _block(kv_len)
    sizes = sk.BlockSizes(block_q=bq, block_kv=bkv, block_kv_compute=bkv, block_q_dkv=bq, block_kv_dkv=bkv,
                          block_kv_dkv_compute=bkv, block_q_dq=bq, block_kv_dq=bkv)
    return sk.make_splash_mha(sm.MultiHeadMask([one] * num_heads), block_sizes=sizes, head_shards=1, q_seq_shards=1,
                              interpret=interpret)


def attend_splash(q: jax.Array, k: jax.Array, v: jax.Array, *, kv_lengths: jax.Array | None = None,
                  scale: float | None = None, causal: bool = False, interpret: bool = False) -> jax.Array:
    """Same contract as `attend_xla` (no bias). Padding keys are a second segment: queries (segment 1) never attend
    to keys of segment 0."""
    b, n, h, d = q.shape
    m = k.shape[1]
    scale = d ** -0.5 if scale is None else scale
    kernel = _kernel(h, n, m, causal, interpret)
    heads_first = lambda t: jnp.swapaxes(t, 1, 2)  # noqa: E731  (b, s, h, d) -> (b, h, s, d)
    qh = heads_first(q * jnp.asarray(scale, q.dtype))
    kh, vh = heads_first(k), heads_first(v)
    if kv_lengths is None:
        out = jax.vmap(kernel)(qh, kh, vh)
    else:
        from jax.experimental.pallas.ops.tpu.splash_attention.splash_attention_kernel import SegmentIds

        q_ids = jnp.ones((b, n), jnp.int32)
        kv_ids = (jnp.arange(m)[None, :] < kv_lengths[:, None]).astype(jnp.int32)
        out = jax.vmap(lambda a, bb, c, s, t: kernel(a, bb, c, segment_ids=SegmentIds(q=s, kv=t)))(
            qh, kh, vh, q_ids, kv_ids)
    return heads_first(out).astype(q.dtype)
