"""Frame-wide quantities for spatially tiled TAE inference.

A tile normalised with its own GroupNorm statistics, and attending only to its own pixels, differs from the same pixels
in the whole frame: the seams open-VAE users complain about. Each GroupNorm and spatial attention of the TAE therefore
asks the `TileView` it is traced under for a frame-wide quantity: a GroupNorm for its per-frame group sums (sum, sum of
squares, count), a spatial attention for its keys and values in a frame-sized buffer. A tile contributes the share
from the pixels it *owns* (the tiles' owned boxes partition the frame), so the shares summed over the tiles are the
frame's.

Each quantity depends on every one before it (a GroupNorm's input was normalised by the earlier ones), so tiled
inference (tiling.py) gathers them in order: pass k runs every tile only as far as quantity k, using the exact totals
of quantities 0..k-1, and stops there (`StopPass`); a last pass runs the tiles to the end with all of them. (A single
pass with estimated statistics does not converge: each pass fixes only one more layer.) Pass k costs the part of the
network before quantity k, so `tile_checkpoint` marks a point at the lowest resolution (the middle block's input in
the encoder, its output in the decoder) where a pass keeps every tile's activations: later passes start there, and
what came before is dead code that XLA drops. Memory stays one tile's plus what sits at the lowest resolution (1/64
of the frame's pixels for the paper's TAE): those activations and the attentions' frame-sized keys and values.
"""

from __future__ import annotations

import contextlib
import dataclasses

import jax
import jax.numpy as jnp

_VIEWS: list["TileView"] = []


class StopPass(Exception):
    """Raised while tracing a tile once the quantity its pass gathers is recorded: the rest of the tile is not run."""


@dataclasses.dataclass
class TileView:
    """Where the tile being traced sits in its frame, in units of the tiled function's input (pixels for the encoder,
    latent pixels for the decoder); a layer at another resolution scales them by its own size over the tile's."""

    tile: tuple[int, int]  # (th, tw), static
    frame: tuple[int, int]  # (H, W), static
    offset: jax.Array  # (2,) int: the tile's top-left corner in the frame
    owned: jax.Array  # (4,) int: the owned box [y0, y1) x [x0, x1) in tile coordinates
    given: list | None = None  # frame totals of the first len(given) quantities; None: every quantity tile-local
    stop_after: int | None = None  # raise StopPass once this quantity is recorded
    index: jax.Array | int = 0  # this tile's place in the scan over tiles (to read its kept activations)
    recorded: list = dataclasses.field(default_factory=list)
    kept: list[bool] = dataclasses.field(default_factory=list)  # per quantity: a tile's own activations, not a sum

    def _scale(self, axis: int, size: int, value):
        return value * size // self.tile[axis]

    def owned_mask(self, h: int, w: int) -> jax.Array:
        """(h, w) float32: 1 on the owned pixels of a layer whose activations are h x w for this tile."""
        y0, y1 = (self._scale(0, h, v) for v in (self.owned[0], self.owned[1]))
        x0, x1 = (self._scale(1, w, v) for v in (self.owned[2], self.owned[3]))
        rows, cols = jnp.arange(h), jnp.arange(w)
        return (((rows >= y0) & (rows < y1))[:, None] & ((cols >= x0) & (cols < x1))[None, :]).astype(jnp.float32)

    def record(self, value: jax.Array, keep: bool = False) -> jax.Array | None:
        """Record this tile's share of the next frame-wide quantity (with `keep`, the tile's own value, gathered per
        tile); return its frame total (the tile's kept value) when known, else None (use the tile's own)."""
        index = len(self.recorded)
        self.recorded.append(value)
        self.kept.append(keep)
        if index == self.stop_after:
            raise StopPass
        if self.given is None or index >= len(self.given):
            return None
        return self.given[index][self.index] if keep else self.given[index]

    def place_in_frame(self, values: jax.Array) -> jax.Array:
        """(n, h, w, c) activations of this tile -> (n, H_l, W_l, c) zeros but for the owned pixels at their place."""
        n, h, w, c = values.shape
        frame = (self._scale(0, h, self.frame[0]), self._scale(1, w, self.frame[1]))
        owned = values * self.owned_mask(h, w)[None, :, :, None].astype(values.dtype)
        start = (0, self._scale(0, h, self.offset[0]), self._scale(1, w, self.offset[1]), 0)
        return jax.lax.dynamic_update_slice(jnp.zeros((n, *frame, c), values.dtype), owned, start)


def tile_checkpoint(x: jax.Array) -> jax.Array:
    """Identity; inside a tiled pass, later passes read this tile's `x` kept by an earlier one instead of recomputing
    it (with everything before it)."""
    view = current_view()
    if view is None:
        return x
    kept = view.record(x, keep=True)
    return x if kept is None else kept


def current_view() -> TileView | None:
    return _VIEWS[-1] if _VIEWS else None


@contextlib.contextmanager
def tile_view(view: TileView):
    """Trace a tile's forward under `view` (tracing only: the hooks run while JAX traces the tile's function)."""
    _VIEWS.append(view)
    try:
        yield view
    finally:
        _VIEWS.pop()


def group_norm_moments(view: TileView, x: jax.Array, groups: int) -> tuple[jax.Array, jax.Array]:
    """x (n, h, w, c) float32 -> per-frame group (mean, var), each (n, groups): the frame's when the previous pass gave
    them, the tile's own otherwise. Records the tile's owned sums either way."""
    n, h, w, c = x.shape
    xg = x.reshape(n, h, w, groups, c // groups)
    mask = view.owned_mask(h, w)
    count = jnp.broadcast_to(mask.sum() * (c // groups), (n, groups))
    sums = jnp.stack([jnp.einsum("nhwgc,hw->ng", xg, mask), jnp.einsum("nhwgc,hw->ng", xg * xg, mask), count], -1)
    total = view.record(sums)
    if total is None:
        mean, mean_sq = jnp.mean(xg, axis=(1, 2, 4)), jnp.mean(xg * xg, axis=(1, 2, 4))
    else:
        mean, mean_sq = total[..., 0] / total[..., 2], total[..., 1] / total[..., 2]
    return mean, jnp.maximum(mean_sq - mean * mean, 0.0)
