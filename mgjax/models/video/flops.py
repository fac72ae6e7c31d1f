"""Analytic forward FLOPs of the Movie Gen Video backbone (XLA's cost analysis counts a scanned layer once, so model
FLOPs are computed here; tests check the formula against XLA on an unscanned model)."""

from __future__ import annotations

import math
from typing import Sequence

from mgjax.config.text import TextEncoderConfig
from mgjax.config.video import VideoModelConfig


def forward_flops(m: VideoModelConfig, encoders: Sequence[TextEncoderConfig], tokens: int,
                  text_tokens: int) -> dict[str, float]:
    """FLOPs (2 per multiply-add) of one sample's forward pass: dense matmuls and attention."""
    n, t, d, f, L = tokens, text_tokens, m.width, m.ffn_width, m.num_layers
    patch_in = math.prod(m.patch_size) * m.in_channels
    per_layer_dense = 2 * n * (4 * d * d + 2 * d * d + 3 * d * f) + 2 * t * 2 * d * d
    per_layer_attention = 4 * n * n * d + 4 * n * t * d
    text_proj = sum(2 * e.max_length * e.width * d for e in encoders)
    io = 2 * n * patch_in * d * 2 + text_proj
    dense, attention = L * per_layer_dense + io, L * per_layer_attention
    return {"dense": float(dense), "attention": float(attention), "total": float(dense + attention)}
