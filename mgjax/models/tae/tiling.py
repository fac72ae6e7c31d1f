"""Tiled TAE inference with memory bounded by one tile (paper §3.1.1).

Encoding: 32-frame tiles without overlap. Decoding: 4-latent-frame (32-frame) tiles at a stride of 2 latent frames, so
neighbours overlap by 16 frames and are blended linearly: w X_i + (1 - w) X_{i+1} with w ramping across the overlap.
Large frames are also tiled in h and w, with a linear blend across `spatial_overlap` pixels; passes over the tiles
first gather the frame-wide GroupNorm statistics and attention keys in order (frame_context.py), so tiles do not seam.

Tiles run inside `lax.scan`, which writes each one into the output buffer before the next starts, so the peak memory is
the output plus one tile's activations whatever the clip length. Every tile has the same shape (the last one is shifted
back to end at the edge and blended over a wider overlap), so one compiled body serves a clip of any length.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.config.geometry import tae_compression
from mgjax.models.tae.frame_context import StopPass, TileView, tile_view
from mgjax.models.tae.model import TemporalAutoencoder


def tile_starts(size: int, tile: int, stride: int) -> list[int]:
    """Starts of tiles of `tile` covering [0, size) at `stride`; the last is shifted back to end at `size`."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def blend_weights(starts: list[int], tile: int, size: int) -> np.ndarray:
    """(n, tile) weights: each tile ramps linearly in over its overlap with the previous tile and out over its overlap
    with the next; normalised so they sum to one at every position."""
    n = len(starts)
    weights = np.ones((n, tile), np.float64)
    for i in range(n - 1):
        overlap = starts[i] + tile - starts[i + 1]
        if overlap > 0:
            ramp = (np.arange(overlap) + 1.0) / (overlap + 1.0)  # rises towards the next tile
            weights[i, tile - overlap:] *= 1.0 - ramp
            weights[i + 1, :overlap] *= ramp
    total = np.zeros(size)
    for s, w in zip(starts, weights):
        total[s:s + tile] += w
    return (weights / np.stack([total[s:s + tile] for s in starts])).astype(np.float32)


def blended_tiles(fn: Callable[[jax.Array], jax.Array], x: jax.Array, axis: int, tile: int, stride: int,
                  scale_num: int, scale_den: int) -> jax.Array:
    """Apply `fn` to overlapping tiles of `x` along `axis` and blend the results.

    `fn` maps a tile of `tile` positions to `tile * scale_num / scale_den` positions on the same axis (8/1 for a
    decoder, 1/8 for an encoder); tile and stride must be multiples of `scale_den`.
    """
    size = x.shape[axis]
    if size <= tile:
        return fn(x)
    starts = tile_starts(size, tile, stride)
    out_tile = tile * scale_num // scale_den
    out_size = size * scale_num // scale_den
    out_starts = [s * scale_num // scale_den for s in starts]
    weights = jnp.asarray(blend_weights(out_starts, out_tile, out_size))

    probe = jax.eval_shape(fn, jax.lax.slice_in_dim(x, 0, tile, axis=axis))
    out_shape = list(probe.shape)
    out_shape[axis] = out_size

    def body(out, inputs):
        start, out_start, weight = inputs
        y = fn(jax.lax.dynamic_slice_in_dim(x, start, tile, axis=axis))
        shape = [1] * y.ndim
        shape[axis] = out_tile
        y = y * weight.reshape(shape).astype(y.dtype)
        current = jax.lax.dynamic_slice_in_dim(out, out_start, out_tile, axis=axis)
        return jax.lax.dynamic_update_slice_in_dim(out, current + y, out_start, axis=axis), None

    out0 = jnp.zeros(out_shape, probe.dtype)
    out, _ = jax.lax.scan(body, out0, (jnp.asarray(starts), jnp.asarray(out_starts), weights))
    return out


def owned_ranges(starts: list[int], tile: int, size: int, multiple: int) -> list[tuple[int, int]]:
    """[lo, hi) in tile coordinates of the part of the axis each tile owns: the tiles meet in the middle of their
    overlap (rounded down to `multiple`, the input's downsampling factor), so the owned ranges partition [0, size)."""
    cuts = [(s + tile + nxt) // 2 // multiple * multiple for s, nxt in zip(starts, starts[1:])]
    bounds = [0, *cuts, size]
    return [(lo - s, hi - s) for s, lo, hi in zip(starts, bounds, bounds[1:])]


def spatially_tiled(fn: Callable[[jax.Array], jax.Array], x: jax.Array, tile: int, overlap: int, num: int, den: int,
                    frame_norm: bool = True) -> jax.Array:
    """Apply `fn` ((b, t, h, w, c) -> (b, t', h * num / den, w * num / den, c')) to overlapping tiles of `tile` x
    `tile` pixels of `x`, blending the results linearly across `overlap` pixels.

    With `frame_norm`, passes over the tiles first gather each GroupNorm's frame-wide statistics and each spatial
    attention's frame-wide keys, in order (frame_context.py), so the last pass normalises and attends as the untiled
    model does; without, tiles use their own (cheaper, and seams). Each pass is one `lax.scan` over the tiles, so
    memory is one tile's."""
    _, _, height, width, _ = x.shape
    if tile <= 0 or (height <= tile and width <= tile):
        return fn(x)
    th, tw = min(tile, height), min(tile, width)
    ys, xs = tile_starts(height, th, tile - overlap), tile_starts(width, tw, tile - overlap)
    grid = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    own_y, own_x = owned_ranges(ys, th, height, den), owned_ranges(xs, tw, width, den)
    offsets = jnp.asarray([(ys[i], xs[j]) for i, j in grid])
    owned = jnp.asarray([(*own_y[i], *own_x[j]) for i, j in grid])

    def run(offset, box, index, given, stop_after=None):
        view = TileView((th, tw), (height, width), offset, box, given, stop_after, index)
        start = (0, 0, offset[0], offset[1], 0)
        try:
            with tile_view(view):
                y = fn(jax.lax.dynamic_slice(x, start, (*x.shape[:2], th, tw, x.shape[-1])))
        except StopPass:
            y = None
        kinds[:] = view.kept
        return y, view.recorded

    given, tiles, kinds = None, (offsets, owned, jnp.arange(len(grid))), []
    if frame_norm:
        given = []
        jax.eval_shape(run, offsets[0], owned[0], 0, None)  # fills `kinds`: which quantities are kept per tile
        for k, keep in enumerate(list(kinds)):
            def gather(total, inputs, given=given, k=k):
                value = run(*inputs, given, k)[1][k]
                return (total, value) if keep else (total + value, None)

            share = jax.eval_shape(lambda o, b: run(o, b, 0, given, k)[1][k], offsets[0], owned[0])
            total, kept = jax.lax.scan(gather, jnp.zeros(() if keep else share.shape, share.dtype), tiles)
            given = given + [kept if keep else total]

    out_h, out_w = height * num // den, width * num // den
    oth, otw = th * num // den, tw * num // den
    wy = blend_weights([s * num // den for s in ys], oth, out_h)
    wx = blend_weights([s * num // den for s in xs], otw, out_w)
    weights = jnp.asarray(np.stack([wy[i][:, None] * wx[j][None, :] for i, j in grid]))
    probe = jax.eval_shape(run, offsets[0], owned[0], 0, given)[0]

    def blend(out, inputs):
        offset, box, index, weight = inputs
        y = run(offset, box, index, given)[0] * weight[:, :, None].astype(probe.dtype)
        start = (0, 0, offset[0] * num // den, offset[1] * num // den, 0)
        current = jax.lax.dynamic_slice(out, start, y.shape)
        return jax.lax.dynamic_update_slice(out, current + y, start), None

    out0 = jnp.zeros((*probe.shape[:2], out_h, out_w, probe.shape[-1]), probe.dtype)
    return jax.lax.scan(blend, out0, (*tiles, weights))[0]


def tiled_encode(model: TemporalAutoencoder, video: jax.Array) -> tuple[jax.Array, jax.Array]:
    """video (b, t, h, w, 3) -> posterior (mean, logvar), encoding `encode_tile_frames` frames at a time without
    overlap; a last partial tile is encoded on its own."""
    cfg = model.cfg
    _, fs, _ = tae_compression(cfg)
    tile = cfg.encode_tile_frames

    def encode(v):
        moments = lambda s: jnp.concatenate(model.encode(s), axis=-1)
        return spatially_tiled(moments, v, cfg.spatial_tile, cfg.spatial_overlap, 1, fs, cfg.spatial_frame_norm)

    frames = video.shape[1]
    full = frames // tile if frames > tile else 0
    parts = []
    if full:
        tiles = video[:, :full * tile].reshape(video.shape[0], full, tile, *video.shape[2:]).swapaxes(0, 1)
        moments = jax.lax.map(encode, tiles)  # (n, b, tile / ft, h', w', 2c)
        parts.append(moments.swapaxes(0, 1).reshape(video.shape[0], -1, *moments.shape[3:]))
    if frames - full * tile:
        parts.append(encode(video[:, full * tile:]))
    moments = jnp.concatenate(parts, axis=1)
    mean, logvar = jnp.split(moments, 2, axis=-1)
    return mean, logvar


def tiled_decode(model: TemporalAutoencoder, z: jax.Array, num_frames: int | None = None) -> jax.Array:
    """latents (b, t', h', w', c) -> video (b, num_frames or ft * t', h, w, 3) from overlapping decoder tiles."""
    cfg = model.cfg
    ft, fs, _ = tae_compression(cfg)
    tile = cfg.decode_tile_frames // ft
    stride = (cfg.decode_tile_frames - cfg.decode_tile_overlap) // ft
    spatial_tile = cfg.spatial_tile // fs
    spatial_overlap = cfg.spatial_overlap // fs

    def decode(zt):
        return spatially_tiled(model.decode, zt, spatial_tile, spatial_overlap, fs, 1, cfg.spatial_frame_norm)

    video = blended_tiles(decode, z, 1, tile, stride, ft, 1)
    return video if num_frames is None else video[:, :num_frames]
