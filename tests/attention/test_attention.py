import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mgjax.attention import attend
from mgjax.attention.api import select_kernel
from mgjax.attention.xla import attend_key_blocks, attend_xla


def _qkv(b=2, n=6, m=5, h=2, d=8, key=0):
    ks = jax.random.split(jax.random.key(key), 3)
    return (jax.random.normal(ks[0], (b, n, h, d)), jax.random.normal(ks[1], (b, m, h, d)),
            jax.random.normal(ks[2], (b, m, h, d)))


def test_xla_kernel_matches_jax_reference_forward_and_backward():
    q, k, v = _qkv()
    ref = lambda q, k, v: jax.nn.dot_product_attention(q, k, v, implementation="xla")
    np.testing.assert_allclose(attend_xla(q, k, v), ref(q, k, v), atol=1e-5)
    g = jax.grad(lambda *a: jnp.sum(attend_xla(*a) ** 2), argnums=(0, 1, 2))(q, k, v)
    g_ref = jax.grad(lambda *a: jnp.sum(ref(*a) ** 2), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_padding_keys_are_ignored():
    q, k, v = _qkv()
    lengths = jnp.array([3, 5])
    out = attend(q, k, v, kv_lengths=lengths)
    k2 = k.at[0, 3:].set(100.0)
    v2 = v.at[0, 3:].set(-50.0)
    np.testing.assert_allclose(attend(q, k2, v2, kv_lengths=lengths), out, atol=1e-5)
    np.testing.assert_allclose(out[0], attend(q[:1], k[:1, :3], v[:1, :3])[0], atol=1e-5)
    g = jax.grad(lambda k: jnp.sum(attend(q, k, v, kv_lengths=lengths)))(k)
    assert float(jnp.abs(g[0, 3:]).max()) == 0.0


@pytest.mark.parametrize("block", [7, 37, 100, 128])
def test_key_blocks_match_whole_softmax(block):
    """Keys folded `block` at a time (an online softmax, the last block padded and masked) give plain attention."""
    q, k, v = (jax.random.normal(jax.random.key(i), (2, n, 1, 8)) for i, n in enumerate((37, 100, 100)))
    np.testing.assert_allclose(attend_key_blocks(q, k, v, block), attend_xla(q, k, v), atol=2e-6)


def test_bias_and_scale():
    q, k, v = _qkv()
    bias = jax.random.normal(jax.random.key(3), (1, 2, 6, 5))
    ref = jax.nn.dot_product_attention(q, k, v, bias=bias, scale=1.0, implementation="xla")
    np.testing.assert_allclose(attend(q, k, v, bias=bias, scale=1.0), ref, atol=1e-5)


def test_kernel_selection_by_backend():
    q = jnp.zeros((1, 4, 2, 64), jnp.bfloat16)
    long = jnp.zeros((1, 256, 2, 64), jnp.bfloat16)
    assert select_kernel("auto", "cpu", q, q, None) == "xla"
    assert select_kernel("auto", "gpu", q, q, None) == "cudnn"
    assert select_kernel("auto", "gpu", q.astype(jnp.float32), q, None) == "xla"  # cuDNN flash needs half precision
    assert select_kernel("auto", "tpu", long, long, None) == "splash"
    assert select_kernel("auto", "tpu", q, q, None) == "xla"  # splash needs 128-multiple sequences
    with pytest.raises(ValueError, match="needs a GPU"):
        select_kernel("cudnn", "cpu", q, q, None)
    with pytest.raises(ValueError, match="needs a TPU"):
        select_kernel("splash", "gpu", long, long, None)


@pytest.mark.parametrize("causal", [False, True])
def test_splash_kernel_matches_xla_in_interpret_mode(causal):
    """The TPU kernel's numerics, run by the Pallas interpreter on CPU: forward, padding and gradients."""
    from mgjax.attention.splash import attend_splash

    q, k, v = _qkv(b=2, n=128, m=256 if not causal else 128, h=2, d=128)
    lengths = None if causal else jnp.array([256, 200])
    out = attend_splash(q, k, v, kv_lengths=lengths, causal=causal, interpret=True)
    ref = attend_xla(q, k, v, kv_lengths=lengths, causal=causal)
    np.testing.assert_allclose(out, ref, atol=2e-5)
    loss = lambda fn: (lambda *a: jnp.sum(fn(*a) ** 2))  # noqa: E731
    g = jax.grad(loss(lambda *a: attend_splash(*a, kv_lengths=lengths, causal=causal, interpret=True)),
                 argnums=(0, 1, 2))(q, k, v)
    g_ref = jax.grad(loss(lambda *a: attend_xla(*a, kv_lengths=lengths, causal=causal)), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, atol=2e-4)
