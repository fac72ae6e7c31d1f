"""Text and vision encoder sizes of the public checkpoints Movie Gen's encoder families come in (read off their
Hugging Face configs). The paper names UL2, ByT5 and long-prompt MetaCLIP but not their sizes; `moviegen_video_30b`
uses UL2 20B, ByT5-small and MetaCLIP 2.5B (bigG), following MindSpore's widths (4096, 1472, 1280)."""

from __future__ import annotations

import dataclasses

from mgjax.config.schema import TextEncoderConfig, VisionEncoderConfig


def _t5(name, vocab, width, layers, heads, head_dim, ffn, activation, max_length, **kw) -> TextEncoderConfig:
    return TextEncoderConfig(name=name, kind="t5", vocab_size=vocab, width=width, num_layers=layers, num_heads=heads,
                             head_dim=head_dim, ffn_width=ffn, activation=activation, max_length=max_length, **kw)


def _clip_text(width, layers, heads, ffn, projection, max_length=77) -> TextEncoderConfig:
    return TextEncoderConfig(name="metaclip", kind="clip", vocab_size=49408, width=width, num_layers=layers,
                             num_heads=heads, head_dim=width // heads, ffn_width=ffn, activation="quick_gelu",
                             norm_eps=1e-5, max_length=max_length, projection_dim=projection, tokenizer="clip_bpe",
                             sharding="replicated")


TEXT_ENCODERS: dict[str, TextEncoderConfig] = {
    "ul2": _t5("ul2", 32128, 4096, 32, 16, 256, 16384, "silu", 300),  # google/ul2, google/flan-ul2
    "t5_v1_1_xxl": _t5("t5", 32128, 4096, 24, 64, 64, 10240, "gelu_tanh", 512),  # google/t5-v1_1-xxl
    "byt5_small": _t5("byt5", 384, 1472, 12, 6, 64, 3584, "gelu_tanh", 100, tokenizer="byte", input="quoted",
                      sharding="replicated"),
    "byt5_base": _t5("byt5", 384, 1536, 18, 12, 64, 3968, "gelu_tanh", 100, tokenizer="byte", input="quoted",
                     sharding="replicated"),
    "metaclip_b32": _clip_text(512, 12, 8, 2048, 512),  # facebook/metaclip-b32-400m
    "metaclip_l14": _clip_text(768, 12, 12, 3072, 768),  # facebook/metaclip-l14-fullcc2.5b
    "metaclip_h14": _clip_text(1024, 24, 16, 4096, 1024),  # facebook/metaclip-h14-fullcc2.5b
    "metaclip_bigg14": _clip_text(1280, 32, 20, 5120, 1280),  # MetaCLIP 2.5B ViT-bigG-14
}

VISION_ENCODERS: dict[str, VisionEncoderConfig] = {
    "metaclip_b32": VisionEncoderConfig(patch_size=32, width=768, num_layers=12, num_heads=12, ffn_width=3072,
                                        projection_dim=512),
    "metaclip_l14": VisionEncoderConfig(patch_size=14, width=1024, num_layers=24, num_heads=16, ffn_width=4096,
                                        projection_dim=768),
    "metaclip_h14": VisionEncoderConfig(patch_size=14, width=1280, num_layers=32, num_heads=16, ffn_width=5120,
                                        projection_dim=1024),
    "metaclip_bigg14": VisionEncoderConfig(),
}


def text_encoder(preset: str, **overrides) -> TextEncoderConfig:
    """A preset with fields replaced, e.g. text_encoder("metaclip_bigg14", max_length=256, checkpoint=...)."""
    if preset not in TEXT_ENCODERS:
        raise KeyError(f"unknown text encoder preset {preset!r}; valid: {', '.join(TEXT_ENCODERS)}")
    return dataclasses.replace(TEXT_ENCODERS[preset], **overrides)
