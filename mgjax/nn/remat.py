"""Named rematerialisation policies; blocks tag tensors with `checkpoint_name` so policies can pick them."""

from __future__ import annotations

import jax

# Tags used inside blocks (see models/video/block.py).
SAVEABLE_NAMES = ("attn_out", "cross_out", "mlp_out")


def remat_policy(name: str):
    """Map a config name to a `jax.checkpoint` policy; None means no rematerialisation."""
    cp = jax.checkpoint_policies
    policies = {
        "none": None,
        "full": cp.nothing_saveable,
        "save_dots": cp.dots_with_no_batch_dims_saveable,
        "save_attention": cp.save_only_these_names(*SAVEABLE_NAMES),
        "offload_dots": cp.save_and_offload_only_these_names(
            names_which_can_be_saved=[], names_which_can_be_offloaded=list(SAVEABLE_NAMES),
            offload_src="device", offload_dst="pinned_host"),
    }
    if name not in policies:
        raise ValueError(f"unknown remat policy {name!r}; valid: {', '.join(policies)}")
    return policies[name]
