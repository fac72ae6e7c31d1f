"""AdamW (or Muon) with linear warmup, constant or cosine decay, and global-norm gradient clipping."""

from __future__ import annotations

import jax
import optax
from optax.contrib import MuonDimensionNumbers, muon

from mgjax.config.train import OptimConfig


def learning_rate_schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    if cfg.decay == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, cfg.learning_rate, warmup, max(total_steps, warmup + 1),
                                                  end_value=cfg.learning_rate * cfg.end_lr_ratio)
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.learning_rate, max(warmup, 1)),
                                 optax.constant_schedule(cfg.learning_rate)], [max(warmup, 1)])


# Attribute names of layer stacks built under nnx.vmap/nnx.scan: their parameters carry a leading layer axis, which
# Muon must treat as a batch of matrices, not as part of one.
STACKED_MODULES = ("blocks",)


def _key_name(key) -> str | int | None:
    return getattr(key, "key", getattr(key, "name", getattr(key, "idx", None)))


def muon_dimensions(path, param) -> MuonDimensionNumbers | None:
    """Muon's view of a weight as (layers x) (fan_in, fan_out) matrices: a Linear's or conv's `kernel` reduces over
    every axis but the last (a conv's taps and input channels) and outputs the last; a stacked layer axis is a batch.
    None (AdamW) for everything else (biases, norm gains, embedding and position tables, adaLN tables), for the
    output `head`, and for kernels with 3 or fewer input or output channels (the RGB stem and head): modded-nanogpt and
    the Muon paper keep the first and last layers and the non-matrix parameters on Adam."""
    names = [_key_name(k) for k in path]
    if not names or names[-1] != "kernel" or "head" in names or param.ndim < 2:
        return None
    stacked = any(isinstance(n, str) and n in STACKED_MODULES and isinstance(nxt, str)
                  for n, nxt in zip(names, names[1:]))
    first = 1 if stacked else 0
    if param.ndim - first < 2 or param.shape[-1] <= 3 or param.shape[-2] <= 3:
        return None
    return MuonDimensionNumbers(reduction_axis=tuple(range(first, param.ndim - 1)), output_axis=(param.ndim - 1,))


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """Weight decay applies to matrices only (not norms, gains or the adaLN tables' 1-D rows). Under Muon it applies
    to the Muon-updated kernels only: optax's Muon runs its Adam branch (Nesterov AdamW) unmasked, so that branch gets
    none rather than decaying biases and gains."""
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)
    schedule = learning_rate_schedule(cfg, total_steps)
    if cfg.optimizer == "muon":
        update = muon(schedule, eps=cfg.eps, weight_decay=cfg.weight_decay, weight_decay_mask=decay_mask,
                      adam_b1=cfg.b1, adam_b2=cfg.b2, adam_weight_decay=0.0, consistent_rms=0.2,
                      muon_weight_dimension_numbers=lambda params: jax.tree_util.tree_map_with_path(
                          muon_dimensions, params))
    else:
        update = optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             mask=decay_mask)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), update)
