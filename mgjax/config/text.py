"""Text conditioning (paper §3.1.4): the encoders, their presets, and how prompts reach the backbone.

The paper names UL2, ByT5 and long-prompt MetaCLIP but not their sizes; `moviegen_video_30b` uses UL2 20B, ByT5-small
and MetaCLIP 2.5B (bigG), following MindSpore's widths (4096, 1472, 1280). Preset sizes are read off the public
checkpoints' Hugging Face configs.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class TextEncoderConfig:
    """One frozen (or, in tiny demos, trainable) text encoder whose output the backbone projects to its width.

    `kind="t5"` is the T5 v1.1 / UL2 encoder (ByT5 is the same encoder on bytes); `kind="clip"` is a CLIP text tower
    (MetaCLIP); `kind="external"` means the encoder runs outside this model and its (b, m, width) outputs arrive
    precomputed (`python -m mgjax precompute --text`). The defaults are UL2 20B's encoder (google/ul2: 32 layers,
    width 4096, 16 heads of 256, gated-SiLU FFN 16384, vocab 32128); the paper gives neither UL2's size nor its limit.
    """

    name: str = "ul2"
    kind: Literal["t5", "clip", "external"] = "t5"
    vocab_size: int = 32128
    width: int = 4096
    num_layers: int = 32
    num_heads: int = 16
    head_dim: int = 256
    ffn_width: int = 16384
    # UL2: gated SiLU; T5 v1.1 and ByT5: gated GELU (tanh form, HF "gelu_new"); CLIP: quick_gelu (OpenAI, MetaCLIP)
    # or gelu (erf). T5 kinds gate (act(x W0) * x W1); CLIP does not.
    activation: Literal["silu", "gelu_tanh", "gelu", "quick_gelu"] = "silu"
    norm_eps: float = 1e-6  # T5's RMS norm 1e-6; CLIP's LayerNorm 1e-5
    max_length: int = 300  # tokens kept per prompt (CLIP: also its position-table size); longer prompts are truncated
    relative_buckets: int = 32  # T5 only
    relative_max_distance: int = 128  # T5 only
    # T5 only, for encoders trained from scratch: 0 is T5's initialisation; > 0 starts head h's relative-position
    # bias at -locality * 2**-h per token of distance (ALiBi's slopes). The table stays learnable.
    relative_bias_locality: float = 0.0
    projection_dim: int = 0  # CLIP: width of the pooled-output projection (0: no projection)
    # What the encoder reads: the whole prompt, or only its quoted spans (ByT5 reads the text to render, §3.1.4).
    input: Literal["prompt", "quoted"] = "prompt"
    # sentencepiece: T5/UL2 (.model file); byte: ByT5 (UTF-8 bytes + 3, no file); clip_bpe: CLIP's byte-level BPE
    # (a directory with vocab.json and merges.txt).
    tokenizer: Literal["sentencepiece", "byte", "clip_bpe"] = "sentencepiece"
    # When a sentencepiece tokenizer is trained here: unigram is T5's; BPE learns whole words from a small corpus.
    tokenizer_model: Literal["unigram", "bpe"] = "unigram"
    tokenizer_path: str = ""  # sentencepiece: empty trains one on the data's captions and saves it in the workdir
    # Hugging Face weights in safetensors (a file, a directory, or a sharded index), loaded when the model is built.
    checkpoint: str = ""
    trainable: bool = False  # paper: frozen. Tiny CPU runs train their encoder jointly (no pretrained weights).
    # Paper Fig. 8: UL2 under FSDP, ByT5 and MetaCLIP replicated (the presets set this per family).
    sharding: Literal["fsdp", "replicated"] = "fsdp"


@dataclasses.dataclass(frozen=True)
class TextConfig:
    encoders: tuple[TextEncoderConfig, ...] = (TextEncoderConfig(),)
    drop_prob: float = 0.1  # prompts dropped (empty) in training, for classifier-free guidance; paper silent
    # Frozen encoders' outputs come precomputed in the latent records (`python -m mgjax precompute --text`); training
    # then never builds those encoders, and sampling runs them outside the model (models/text/embedder.py).
    precomputed: bool = False


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


def text_encoder(preset: str, **overrides) -> TextEncoderConfig:
    """A preset with fields replaced, e.g. text_encoder("metaclip_bigg14", max_length=256, checkpoint=...)."""
    if preset not in TEXT_ENCODERS:
        raise KeyError(f"unknown text encoder preset {preset!r}; valid: {', '.join(TEXT_ENCODERS)}")
    return dataclasses.replace(TEXT_ENCODERS[preset], **overrides)
