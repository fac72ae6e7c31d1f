"""Hugging Face T5 / UL2 / ByT5 encoder weights (T5EncoderModel or T5ForConditionalGeneration) -> `T5Encoder`."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from mgjax.convert.mapping import Path, Source, linear_weight, load_key_map
from mgjax.errors import UserError

# A full encoder-decoder checkpoint also holds the decoder and LM head; the encoder needs neither.
IGNORE = (r"decoder\..*", r"lm_head\.weight", r"shared\.weight", r"encoder\.embed_tokens\.weight")


def t5_key_map(num_layers: int, checkpoint: Mapping[str, np.ndarray]) -> dict[Path, Source]:
    # The input embedding is tied to `shared` and saved under either name.
    embed = next((k for k in ("encoder.embed_tokens.weight", "shared.weight") if k in checkpoint), "shared.weight")
    m: dict[Path, Source] = {
        ("embed", "embedding"): Source(embed),
        ("relative_bias",): Source("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
        ("final_norm", "scale"): Source("encoder.final_layer_norm.weight"),
    }
    for i in range(num_layers):
        b = f"encoder.block.{i}.layer"
        m[("layers", i, "attn_norm", "scale")] = Source(f"{b}.0.layer_norm.weight")
        for name in ("q", "k", "v", "o"):
            m[("layers", i, name, "kernel")] = Source(f"{b}.0.SelfAttention.{name}.weight", linear_weight)
        m[("layers", i, "ffn_norm", "scale")] = Source(f"{b}.1.layer_norm.weight")
        for name in ("wi_0", "wi_1", "wo"):
            m[("layers", i, name, "kernel")] = Source(f"{b}.1.DenseReluDense.{name}.weight", linear_weight)
    return m


def load_t5_encoder(encoder, checkpoint: Mapping[str, np.ndarray], what: str = "T5 checkpoint") -> int:
    if "encoder.block.0.layer.1.DenseReluDense.wi.weight" in checkpoint:
        raise UserError(f"{what} has an ungated feed-forward (original T5, 'wi'); mgjax's T5 encoder is the gated "
                        f"v1.1 / UL2 / ByT5 form (wi_0, wi_1)")
    return load_key_map(encoder, t5_key_map(len(encoder.layers), checkpoint), checkpoint, IGNORE, what)
