"""Personalized Movie Gen Video's model config (paper §4): the text-to-video backbone plus a CLIP vision encoder whose
output tokens, projected by the backbone's zero-initialised context projection, are joined to the text tokens."""

from __future__ import annotations

import dataclasses

from mgjax.config.video import VideoModelConfig
from mgjax.config.vision import VISION_ENCODERS, VisionEncoderConfig


@dataclasses.dataclass(frozen=True)
class PT2VModelConfig(VideoModelConfig):
    """Build it with `pt2v_model(base, vision)`, which ties the backbone's context stream to the vision tower's width.

    The vision tower starts from `vision_from` (a `clip` run or its export, whose vision tower must match `vision`)
    or from `vision.checkpoint` (Hugging Face MetaCLIP weights); the paper starts from long-prompt MetaCLIP (its size
    unstated: bigG here, as the text encoder). Frozen in stages I and II, trained in stage III (paper §4.2)."""

    vision: VisionEncoderConfig = VISION_ENCODERS["metaclip_bigg14"]
    vision_from: str = ""
    vision_trainable: bool = False


def pt2v_model(base: VideoModelConfig, vision: VisionEncoderConfig, **overrides) -> PT2VModelConfig:
    """The PT2V model on a text-to-video backbone config (the parent run's `model`)."""
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(VideoModelConfig)}
    cfg = PT2VModelConfig(**{**fields, "vision": vision, **overrides})
    return dataclasses.replace(cfg, context_widths=(vision.width,))
