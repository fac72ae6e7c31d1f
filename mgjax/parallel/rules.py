"""Logical-axis rules, one set per component, mapping the names layers declare to mesh axes.

Parameters name their axes at creation (resolved to mesh axes under `use_rules`); activations are constrained at block
boundaries with `constrain`. Changing a rule here changes how a component shards, without touching model code.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Sequence

from jax.sharding import PartitionSpec as P

from mgjax.config.mesh import PRESET_AXES, PRESETS
from mgjax.errors import UserError

Rules = tuple[tuple[str, str | tuple[str, ...] | None], ...]


def video_rules(preset: str) -> Rules:
    """The video backbone's rules under a preset (mgjax/config/mesh.py describes the presets). Logical names: `seq`
    is the sequence inside attention and the MLP, `res_seq` the residual stream between them (where sequence
    parallelism applies)."""
    if preset not in PRESET_AXES:
        raise UserError(f"unknown parallelism preset {preset!r}; valid: {', '.join(PRESETS)}")
    fsdp = "fsdp" if preset != "data" else None
    tp = "tensor" if preset.startswith("fsdp_tp") else None
    cp = "context" if preset.endswith("_cp") else None
    sp = preset.startswith("fsdp_tp_sp")
    res_seq = tuple(a for a in (cp, "tensor" if sp else None) if a) or None
    return (
        ("batch", ("data", "fsdp")),
        ("seq", cp),
        ("res_seq", res_seq),
        ("embed", fsdp),
        ("heads", tp),
        ("mlp", tp),
        ("act_embed", None),
        ("act_heads", tp),
        ("act_mlp", tp),
        ("text_seq", None),
        ("text_embed", None),
        ("modulation", None),
        ("layers", None),
        ("patch", None),
        ("norm", None),
    )


# The default: FSDP + TP + SP + CP (the paper's 768 px setup); mesh axes of size 1 make any part a no-op.
VIDEO_RULES: Rules = video_rules("fsdp_tp_sp_cp")

# Text encoders: small ones replicated (the paper replicates ByT5 and MetaCLIP); UL2 uses FSDP via UL2_RULES.
TEXT_RULES: Rules = (
    ("batch", ("data", "fsdp")),
    ("text_seq", None),
    ("vocab", None),
    ("embed", None),
    ("heads", None),
    ("mlp", None),
    ("act_embed", None),
    ("act_heads", None),
    ("act_mlp", None),
    ("layers", None),
    ("norm", None),
    ("relpos", None),
)

# The TAE (~100M parameters in the paper size): parameters replicated, the batch over data and fsdp. Long clips are
# bounded by tiling (mgjax/models/tae/tiling.py), not by sharding activations.
TAE_RULES: Rules = (
    ("batch", ("data", "fsdp")),
    ("conv_in", None),
    ("conv_out", None),
)

DAC_VAE_RULES: Rules = TAE_RULES  # the audio codec's convs name the same axes: replicated, the batch data-parallel

UL2_RULES: Rules = tuple((k, "fsdp" if k == "embed" else v) for k, v in TEXT_RULES)


def logical_to_spec(logical: Sequence[str | None], rules: Rules) -> P:
    """Logical dimension names -> a PartitionSpec; a mesh axis shards at most one dimension (the first that asks)."""
    table = dict(rules)
    used: set[str] = set()
    out = []
    for name in logical:
        axes = table.get(name) if name is not None else None
        flat = (axes,) if isinstance(axes, str) else tuple(axes or ())
        flat = tuple(a for a in flat if a not in used)
        used.update(flat)
        out.append(None if not flat else flat[0] if len(flat) == 1 else flat)
    return P(*out)


_active_rules: contextvars.ContextVar[Rules | None] = contextvars.ContextVar("mgjax_rules", default=None)


@contextlib.contextmanager
def use_rules(rules: Rules):
    """Build a component under its rule set: parameters created inside record *mesh* axes, resolved right away, so
    components with different rules (video, text) coexist in one module tree and re-resolve under any context."""
    token = _active_rules.set(rules)
    try:
        yield
    finally:
        _active_rules.reset(token)


def resolve(logical: tuple[str | None, ...]) -> tuple:
    """Logical names -> mesh axes under the active rule set (a name without a rule is replicated)."""
    rules = _active_rules.get()
    if rules is None:
        raise RuntimeError("create mgjax modules under `use_rules(...)` so their parameters know how to shard")
    return tuple(logical_to_spec(logical, rules))
