"""AdamW (or Muon) with linear warmup, constant or cosine decay, and global-norm gradient clipping."""

from __future__ import annotations

import jax
import optax
from optax.contrib import MuonDimensionNumbers, muon

from mgjax.config.schema import OptimConfig


def learning_rate_schedule(cfg: OptimConfig, total_steps: int) -> optax.Schedule:
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    if cfg.decay == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, cfg.learning_rate, warmup, max(total_steps, warmup + 1),
                                                  end_value=cfg.learning_rate * cfg.end_lr_ratio)
    return optax.join_schedules([optax.linear_schedule(0.0, cfg.learning_rate, max(warmup, 1)),
                                 optax.constant_schedule(cfg.learning_rate)], [max(warmup, 1)])


def muon_dimensions(param) -> MuonDimensionNumbers | None:
    """Muon's view of a parameter as a (fan_in, fan_out) matrix: every axis but the last reduces (a conv kernel's taps
    and input channels), the last is the output. None (AdamW) for vectors and for kernels with 3 or fewer input or
    output channels: the RGB stem and head, which orthogonalisation serves badly (modded-nanogpt keeps them on Adam)."""
    if param.ndim < 2 or param.shape[-1] <= 3 or param.shape[-2] <= 3:
        return None
    return MuonDimensionNumbers(reduction_axis=tuple(range(param.ndim - 1)), output_axis=(param.ndim - 1,))


def make_optimizer(cfg: OptimConfig, total_steps: int) -> optax.GradientTransformation:
    """Weight decay applies to matrices only (not norms, gains or the adaLN tables' 1-D rows)."""
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)
    schedule = learning_rate_schedule(cfg, total_steps)
    if cfg.optimizer == "muon":
        update = muon(schedule, weight_decay=cfg.weight_decay, weight_decay_mask=decay_mask, adam_b1=cfg.b1,
                      adam_b2=cfg.b2, adam_weight_decay=cfg.weight_decay, consistent_rms=0.2,
                      muon_weight_dimension_numbers=lambda params: jax.tree.map(muon_dimensions, params))
    else:
        update = optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay,
                             mask=decay_mask)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), update)
