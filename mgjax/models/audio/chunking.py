"""Chunked DAC-VAE inference: encode and decode any length with peak memory bounded by the chunk, equal to one pass.

Each chunk of latent frames is computed from a window holding it and, on each side, the stack's reach
(`config/geometry.py`: `dac_context_frames`), so no edge effect of the window reaches a kept frame. Windows start on a
hop boundary (the strided convs keep their phase), have one fixed length (one compiled program) and are shifted
inside the signal at its ends rather than padded, so the true ends see exactly the padding a single pass gives them.
This is what DAC's own chunked `compress` gets wrong: its output depends on the chunk length and its clip ends are
noisy (DAC issues #39, #69). Windows run in a `lax.fori_loop` writing into the output, so memory is one window plus
the output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.geometry import audio_latent_frames, dac_context_frames


def _windows(total: int, chunk: int, context: int) -> tuple[int, int, int]:
    """(number of chunks, window length, chunk length) in frames; one window covers everything when it would not
    fit."""
    window = chunk + 2 * context
    if window >= total:
        return 1, total, total
    return -(-total // chunk), window, chunk


def _chunked(fn, x: jax.Array, total: int, unit_in: int, unit_out: int, chunk: int, context: int, out_shape):
    """Apply `fn` (frames of `unit_in` rows of x -> frames of `unit_out` rows) chunk by chunk."""
    count, window, chunk = _windows(total, chunk, context)
    if count == 1:
        return fn(x)

    def body(i, out):
        start = jnp.minimum(i * chunk, total - chunk)  # the last chunk overlaps the one before (recomputed alike)
        first = jnp.clip(start - context, 0, total - window)
        y = fn(jax.lax.dynamic_slice_in_dim(x, first * unit_in, window * unit_in, axis=1))
        keep = jax.lax.dynamic_slice_in_dim(y, (start - first) * unit_out, chunk * unit_out, axis=1)
        return jax.lax.dynamic_update_slice_in_dim(out, keep.astype(out.dtype), start * unit_out, axis=1)

    return jax.lax.fori_loop(0, count, body, jnp.zeros(out_shape, jnp.float32))


def chunked_encode(model, audio: jax.Array, chunk_frames: int) -> tuple[jax.Array, jax.Array]:
    """(b, n, 1) -> mean, log-variance (b, ceil(n / hop), c), computed `chunk_frames` latent frames at a time."""
    cfg, hop = model.cfg, model.hop
    context, _ = dac_context_frames(cfg.strides, cfg.dilations, cfg.residual_kernel)
    padded = model.pad(audio)
    frames = audio_latent_frames(audio.shape[1], hop)
    moments = _chunked(lambda a: model.encoder(a).astype(jnp.float32), padded, frames, hop, 1, chunk_frames, context,
                       (audio.shape[0], frames, 2 * cfg.latent_channels))
    mean, logvar = jnp.split(moments, 2, axis=-1)
    return mean, jnp.clip(logvar, -30.0, 20.0)


def chunked_decode(model, z: jax.Array, chunk_frames: int, num_samples: int | None = None) -> jax.Array:
    """(b, m, c) -> (b, m x hop, 1) (or its first `num_samples`), `chunk_frames` latent frames at a time."""
    cfg, hop = model.cfg, model.hop
    _, context = dac_context_frames(cfg.strides, cfg.dilations, cfg.residual_kernel)
    frames = z.shape[1]
    audio = _chunked(lambda x: model.decoder(x).astype(jnp.float32), z, frames, 1, hop, chunk_frames, context,
                     (z.shape[0], frames * hop, 1))
    return audio if num_samples is None else audio[:, :num_samples]


def jit_chunked(model, chunk_frames: int):
    """Compiled (encode, decode) for `model` at `chunk_frames`: encode(audio) -> (mean, logvar); decode(z, n)."""
    graphdef, state = nnx.split(model)
    encode = jax.jit(lambda s, a: chunked_encode(nnx.merge(graphdef, s), a, chunk_frames))
    decode = jax.jit(lambda s, z, n: chunked_decode(nnx.merge(graphdef, s), z, chunk_frames, n), static_argnums=2)
    return (lambda audio: encode(state, audio)), (lambda z, n=None: decode(state, z, n))
