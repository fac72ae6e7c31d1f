"""Hugging Face CLIP weights (CLIPModel, CLIPTextModel[WithProjection], CLIPVisionModel[WithProjection]) ->
`CLIPTextEncoder` / `CLIPVisionEncoder`.

A 77-position text checkpoint loads into a longer context (long-prompt MetaCLIP uses 256) by linear interpolation of
its position table, endpoints kept; the paper does not say how its table was initialised, and the long-prompt model was
then fine-tuned, so interpolation is only a starting point for that fine-tuning.
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from mgjax.convert.mapping import Path, Source, linear_weight, load_key_map, with_prefix

log = logging.getLogger(__name__)

# What a combined CLIPModel holds besides the tower being loaded (its projection is ignored only when unused).
TEXT_IGNORE = (r"vision_model\..*", r"visual_projection\.weight", r"logit_scale", r".*position_ids")
VISION_IGNORE = (r"text_model\..*", r"text_projection\.weight", r"logit_scale", r".*position_ids")


def interpolate_positions(table: np.ndarray, length: int) -> np.ndarray:
    """(n, d) -> (length, d): linear interpolation along positions, first and last rows kept."""
    n = table.shape[0]
    if n == length:
        return table
    x = np.linspace(0.0, n - 1, length)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (x - lo)[:, None]
    t = table.astype(np.float64)
    return ((1 - w) * t[lo] + w * t[hi]).astype(table.dtype)


def _layer_keys(m: dict, prefix: str, i: int) -> None:
    b = f"{prefix}.encoder.layers.{i}"
    for ours, theirs in (("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
                         ("o", "self_attn.out_proj"), ("fc1", "mlp.fc1"), ("fc2", "mlp.fc2")):
        m[("layers", i, ours, "kernel")] = Source(f"{b}.{theirs}.weight", linear_weight)
        m[("layers", i, ours, "bias")] = Source(f"{b}.{theirs}.bias")
    for ours, theirs in (("norm1", "layer_norm1"), ("norm2", "layer_norm2")):
        m[("layers", i, ours, "scale")] = Source(f"{b}.{theirs}.weight")
        m[("layers", i, ours, "bias")] = Source(f"{b}.{theirs}.bias")


def _norm(m: dict, ours: str, theirs: str) -> None:
    m[(ours, "scale")] = Source(f"{theirs}.weight")
    m[(ours, "bias")] = Source(f"{theirs}.bias")


def clip_text_key_map(encoder) -> dict[Path, Source]:
    length = encoder.pos_embed.shape[0]
    m: dict[Path, Source] = {
        ("token_embed", "embedding"): Source("text_model.embeddings.token_embedding.weight"),
        ("pos_embed",): Source("text_model.embeddings.position_embedding.weight",
                               lambda t: interpolate_positions(t, length)),
    }
    _norm(m, "final_norm", "text_model.final_layer_norm")
    for i in range(len(encoder.layers)):
        _layer_keys(m, "text_model", i)
    if encoder.projection is not None:
        m[("projection", "kernel")] = Source("text_projection.weight", linear_weight)
    return m


def clip_vision_key_map(encoder) -> dict[Path, Source]:
    e = "vision_model.embeddings"
    m: dict[Path, Source] = {
        # conv weight (d, 3, p, p) -> kernel over patches flattened in (c, p, q) order
        ("patch_embed", "kernel"): Source(f"{e}.patch_embedding.weight", lambda w: w.reshape(w.shape[0], -1).T),
        ("class_embed",): Source(f"{e}.class_embedding"),
        ("pos_embed",): Source(f"{e}.position_embedding.weight"),
    }
    _norm(m, "pre_norm", "vision_model.pre_layrnorm")  # sic: Hugging Face's spelling
    _norm(m, "post_norm", "vision_model.post_layernorm")
    for i in range(len(encoder.layers)):
        _layer_keys(m, "vision_model", i)
    if encoder.projection is not None:
        m[("projection", "kernel")] = Source("visual_projection.weight", linear_weight)
    return m


def load_clip_text(encoder, checkpoint: Mapping[str, np.ndarray], what: str = "CLIP checkpoint") -> int:
    checkpoint = with_prefix(checkpoint, "text_model.", "embeddings.token_embedding.weight")
    key = "text_model.embeddings.position_embedding.weight"
    if key in checkpoint:
        n = checkpoint[key].shape[0]
        if n != encoder.pos_embed.shape[0]:
            log.warning("%s: interpolating the %d-position table to %d positions", what, n, encoder.pos_embed.shape[0])
    ignore = TEXT_IGNORE + (() if encoder.projection is not None else (r"text_projection\.weight",))
    return load_key_map(encoder, clip_text_key_map(encoder), checkpoint, ignore, what)


def load_clip_vision(encoder, checkpoint: Mapping[str, np.ndarray], what: str = "CLIP checkpoint") -> int:
    checkpoint = with_prefix(checkpoint, "vision_model.", "embeddings.patch_embedding.weight")
    ignore = VISION_IGNORE + (() if encoder.projection is not None else (r"visual_projection\.weight",))
    return load_key_map(encoder, clip_vision_key_map(encoder), checkpoint, ignore, what)
