"""Logical-axis rules, one set per component, mapping the names layers declare to mesh axes.

Parameters name their axes at creation (resolved to mesh axes under `use_rules`); activations are constrained at block
boundaries with `constrain`. Changing a rule here changes how a component shards, without touching model code.
"""

from __future__ import annotations

import contextlib
import contextvars

Rules = tuple[tuple[str, str | tuple[str, ...] | None], ...]

# The video backbone: FSDP over `fsdp`, Megatron-style tensor parallelism over `tensor` (column-parallel in, row-parallel
# out), the token sequence over `context`. Batch shards over data and fsdp together.
VIDEO_RULES: Rules = (
    ("batch", ("data", "fsdp")),
    ("seq", "context"),
    ("embed", "fsdp"),
    ("heads", "tensor"),
    ("mlp", "tensor"),
    ("act_embed", None),
    ("act_heads", "tensor"),
    ("act_mlp", "tensor"),
    ("text_seq", None),
    ("text_embed", None),
    ("modulation", None),
    ("layers", None),
    ("patch", None),
    ("norm", None),
)

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

UL2_RULES: Rules = tuple((k, "fsdp" if k == "embed" else v) for k, v in TEXT_RULES)


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
    from mgjax.parallel.sharding import logical_to_spec

    rules = _active_rules.get()
    if rules is None:
        raise RuntimeError("create mgjax modules under `use_rules(...)` so their parameters know how to shard")
    return tuple(logical_to_spec(logical, rules))
