import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mgjax.attention import attend
from mgjax.attention.api import select_kernel
from mgjax.attention.xla import attend_xla


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


def test_bias_and_scale():
    q, k, v = _qkv()
    bias = jax.random.normal(jax.random.key(3), (1, 2, 6, 5))
    ref = jax.nn.dot_product_attention(q, k, v, bias=bias, scale=1.0, implementation="xla")
    np.testing.assert_allclose(attend(q, k, v, bias=bias, scale=1.0), ref, atol=1e-5)


def test_kernel_selection_by_backend():
    q = jnp.zeros((1, 4, 2, 64), jnp.bfloat16)
    assert select_kernel("auto", "cpu", q, None) == "xla"
    assert select_kernel("auto", "gpu", q, None) == "cudnn"
    assert select_kernel("auto", "gpu", q.astype(jnp.float32), None) == "xla"  # cuDNN flash needs half precision
    assert select_kernel("auto", "tpu", q, None) == "xla"
    with pytest.raises(ValueError, match="needs a GPU"):
        select_kernel("cudnn", "cpu", q, None)
