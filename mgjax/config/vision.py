"""Vision encoders: PT2V's reference-image encoder, initialised from long-prompt MetaCLIP (paper §4)."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class VisionEncoderConfig:
    """A CLIP vision tower. The defaults are ViT-bigG/14 at 224 px, the vision half of MetaCLIP 2.5B (paper silent on
    the size)."""

    image_size: int = 224
    patch_size: int = 14
    width: int = 1664
    num_layers: int = 48
    num_heads: int = 16
    ffn_width: int = 8192
    activation: Literal["gelu", "quick_gelu"] = "quick_gelu"  # MetaCLIP trains with QuickGELU
    norm_eps: float = 1e-5
    projection_dim: int = 1280  # pooled-output projection (0: none)
    checkpoint: str = ""


VISION_ENCODERS: dict[str, VisionEncoderConfig] = {
    "metaclip_b32": VisionEncoderConfig(patch_size=32, width=768, num_layers=12, num_heads=12, ffn_width=3072,
                                        projection_dim=512),
    "metaclip_l14": VisionEncoderConfig(patch_size=14, width=1024, num_layers=24, num_heads=16, ffn_width=4096,
                                        projection_dim=768),
    "metaclip_h14": VisionEncoderConfig(patch_size=14, width=1280, num_layers=32, num_heads=16, ffn_width=5120,
                                        projection_dim=1024),
    "metaclip_bigg14": VisionEncoderConfig(),
}
