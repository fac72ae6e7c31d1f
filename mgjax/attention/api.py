"""One attention entry point for every model: `attend()` picks a kernel per backend and logs the choice once."""

from __future__ import annotations

import logging

import jax

from mgjax.attention import cudnn, splash
from mgjax.attention.xla import attend_xla

log = logging.getLogger(__name__)
_logged: set[tuple[str, str]] = set()


KERNELS = ("auto", "xla", "cudnn", "splash")


def select_kernel(implementation: str, backend: str, q: jax.Array, k: jax.Array, bias: jax.Array | None) -> str:
    """`auto`: cuDNN flash on GPU and Pallas splash on TPU when the inputs allow it, XLA otherwise. An explicit
    choice is honoured or fails loudly; there is no silent fallback."""
    if implementation == "auto":
        if backend == "gpu" and cudnn.supports(q, bias):
            return "cudnn"
        if backend == "tpu" and splash.supports(q, k, bias):
            return "splash"
        return "xla"
    if implementation not in KERNELS:
        raise ValueError(f"unknown attention implementation {implementation!r}; valid: {', '.join(KERNELS)}")
    needs = {"cudnn": "gpu", "splash": "tpu"}.get(implementation)
    if needs and backend != needs:
        raise ValueError(f"attention implementation {implementation!r} needs a {needs.upper()} backend, "
                         f"got {backend!r}")
    return implementation


def target_backend() -> str:
    """The platform being compiled for: the active mesh's devices when a mesh is set (so a CPU process compiling
    ahead of time for a TPU topology picks TPU kernels), else JAX's default backend."""
    mesh = jax.sharding.get_abstract_mesh()
    device = None if mesh.empty else getattr(mesh, "abstract_device", None)
    if device is None:
        return jax.default_backend()
    return "gpu" if device.platform in ("gpu", "cuda", "rocm") else device.platform


def attend(q: jax.Array, k: jax.Array, v: jax.Array, *, bias: jax.Array | None = None,
           kv_lengths: jax.Array | None = None, scale: float | None = None, causal: bool = False,
           implementation: str = "auto") -> jax.Array:
    """Multi-head attention, bidirectional unless `causal` (Movie Gen's attention is bidirectional; CLIP's text tower
    is causal).

    q: (b, n, h, d); k, v: (b, m, h, d); bias: broadcastable to (b, h, n, m); kv_lengths: (b,) valid keys per row
    (padding at the end). Returns (b, n, h, d) in q's dtype. scale defaults to d ** -0.5.
    """
    backend = target_backend()
    kernel = select_kernel(implementation, backend, q, k, bias)
    if (kernel, backend) not in _logged:
        _logged.add((kernel, backend))
        log.info("attention kernel: %s on %s", kernel, backend)
    if kernel == "cudnn":
        return cudnn.attend_cudnn(q, k, v, bias=bias, kv_lengths=kv_lengths, scale=scale, causal=causal)
    if kernel == "splash":
        return splash.attend_splash(q, k, v, kv_lengths=kv_lengths, scale=scale, causal=causal)
    return attend_xla(q, k, v, bias=bias, kv_lengths=kv_lengths, scale=scale, causal=causal)
