"""CLIP: a text tower and a vision tower trained contrastively (Radford et al. 2021; MetaCLIP, Xu et al. 2023). Movie
Gen's PT2V starts its reference-image encoder from long-prompt MetaCLIP (paper §4); here the `clip` task pretrains
both towers, and a trained CLIP is also the learned evaluator of other systems (`mgjax.checkpoint.restore.load_clip`).
"""

from __future__ import annotations

import dataclasses
import math

from mgjax.config.text import TEXT_ENCODERS, TextEncoderConfig
from mgjax.config.vision import VISION_ENCODERS, VisionEncoderConfig

# OpenAI CLIP's pixel normalisation, which MetaCLIP keeps (its preprocessor_config.json).
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclasses.dataclass(frozen=True)
class CLIPModelConfig:
    """Both towers project to one embedding width (`text.projection_dim == vision.projection_dim`); the similarity of
    an image and a text is the cosine of their embeddings times a learned temperature, exp(logit_scale), which starts
    at 1 / 0.07 and is clamped at 100 (CLIP's values; MetaCLIP keeps them)."""

    text: TextEncoderConfig = dataclasses.replace(TEXT_ENCODERS["metaclip_bigg14"], max_length=256)
    vision: VisionEncoderConfig = VISION_ENCODERS["metaclip_bigg14"]
    logit_scale_init: float = 1 / 0.07
    logit_scale_max: float = 100.0

    @property
    def embed_dim(self) -> int:
        return self.vision.projection_dim

    @property
    def log_scale_max(self) -> float:
        return math.log(self.logit_scale_max)


def clip_model(preset: str, **overrides) -> CLIPModelConfig:
    """A MetaCLIP preset's two towers (the text tower's positions widened to 256, long-prompt MetaCLIP, paper §3.1.4),
    with fields replaced."""
    if preset not in VISION_ENCODERS:
        raise KeyError(f"unknown CLIP preset {preset!r}; presets: {', '.join(VISION_ENCODERS)}")
    text = dataclasses.replace(TEXT_ENCODERS[preset], max_length=256)
    return CLIPModelConfig(text=text, vision=VISION_ENCODERS[preset], **overrides)
