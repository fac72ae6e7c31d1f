"""The text path of the video model: one tokenizer and one encoder per configured encoder (UL2, ByT5, MetaCLIP ...).

Tokenizers live outside the NNX module tree (they hold no arrays); `encode_prompts` turns prompts into per-encoder
(ids, mask) batches that `TextToVideo` feeds to its encoders. Building an encoder only constructs it (abstract
builds, and restores from an Orbax checkpoint, must not read weights); `load_pretrained_encoders` copies each
configured `checkpoint` (Hugging Face safetensors) in, where a run starts fresh.
"""

from __future__ import annotations

import collections
import logging
import pathlib
from typing import Callable, Iterable, Sequence

import jax.numpy as jnp
from flax import nnx

from mgjax.config.text import TextEncoderConfig
from mgjax.convert.clip import load_clip_text
from mgjax.convert.safetensors import Checkpoint
from mgjax.convert.t5 import load_t5_encoder
from mgjax.errors import UserError
from mgjax.models.text.clip import CLIPTextEncoder
from mgjax.models.text.clip_tokenizer import CLIPTokenizer
from mgjax.models.text.prompts import quoted_text
from mgjax.models.text.t5 import T5Encoder
from mgjax.models.text.tokenizer import ByteTokenizer, SentencePieceTokenizer, TokenBatch
from mgjax.parallel.rules import TEXT_RULES, UL2_RULES, Rules, use_rules

log = logging.getLogger(__name__)


def encoder_rules(cfg: TextEncoderConfig) -> Rules:
    """`sharding`: fsdp (UL2, large) or replicated (ByT5, MetaCLIP; paper Fig. 8)."""
    return UL2_RULES if cfg.sharding == "fsdp" else TEXT_RULES


def build_encoder(cfg: TextEncoderConfig, *, rngs: nnx.Rngs) -> nnx.Module | None:
    """The encoder module, or None for an external encoder (its outputs arrive precomputed)."""
    if cfg.kind == "external":
        return None
    rules = encoder_rules(cfg)
    with use_rules(rules):
        if cfg.kind == "t5":
            encoder = T5Encoder(cfg, rules=rules, dtype=jnp.float32, rngs=rngs)
        elif cfg.kind == "clip":
            encoder = CLIPTextEncoder(cfg, rules=rules, dtype=jnp.float32, rngs=rngs)
        else:
            raise ValueError(f"unknown text encoder kind {cfg.kind!r}")
    return encoder


def load_pretrained_encoders(encoders: Sequence[nnx.Module | None], cfgs: Sequence[TextEncoderConfig]) -> None:
    """Load every configured `checkpoint` into its built encoder (None entries: external encoders)."""
    for encoder, cfg in zip(encoders, cfgs):
        if encoder is not None and cfg.checkpoint:
            load_encoder_weights(encoder, cfg)


def load_encoder_weights(encoder: nnx.Module, cfg: TextEncoderConfig) -> int:
    """Copy `cfg.checkpoint` (Hugging Face safetensors) into `encoder`; returns the number of values loaded."""
    checkpoint = Checkpoint(cfg.checkpoint)
    what = f"{cfg.name} checkpoint {cfg.checkpoint!r}"
    load = load_t5_encoder if cfg.kind == "t5" else load_clip_text
    return load(encoder, checkpoint, what)


def tokenizer_file(workdir: str | pathlib.Path, cfg: TextEncoderConfig) -> pathlib.Path:
    return pathlib.Path(workdir) / f"tokenizer_{cfg.name}.model"


def load_or_train_tokenizers(encoders: Sequence[TextEncoderConfig], workdir: str | pathlib.Path | None,
                             corpus: Callable[[], Iterable[str]] | None = None) -> list:
    """Each encoder's tokenizer. Bytes need no file and CLIP's BPE reads `tokenizer_path`. SentencePiece: its
    `tokenizer_path`, else the copy saved in the workdir, else trained on `corpus()` (deterministically) and saved in
    the workdir so sampling uses exactly the training run's vocabulary."""
    captions = None  # built from `corpus()` only if some tokenizer must be trained
    out = []
    for cfg in encoders:
        saved = tokenizer_file(workdir, cfg) if workdir else None
        if cfg.tokenizer == "byte":
            tok = ByteTokenizer()
        elif cfg.tokenizer == "clip_bpe":
            if not cfg.tokenizer_path:
                raise UserError(f"text encoder {cfg.name!r} (clip_bpe) needs tokenizer_path: a directory with "
                                f"vocab.json and merges.txt")
            tok = CLIPTokenizer.load(cfg.tokenizer_path)
        elif cfg.tokenizer_path:
            tok = SentencePieceTokenizer.load(cfg.tokenizer_path)
        elif saved is not None and saved.is_file():
            tok = SentencePieceTokenizer.load(saved)
        elif corpus is not None:
            captions = list(corpus()) if captions is None else captions
            tok = SentencePieceTokenizer.train(captions, vocab_size=cfg.vocab_size, model_type=cfg.tokenizer_model)
            log.info("trained a %d-piece tokenizer for %s", tok.vocab_size, cfg.name)
        else:
            raise UserError(f"no tokenizer for text encoder {cfg.name!r}: set text.encoders.N.tokenizer_path or "
                            f"point --workdir at a training run (it saves tokenizer_{cfg.name}.model)")
        if tok.vocab_size > cfg.vocab_size:
            raise UserError(f"tokenizer for {cfg.name!r} has {tok.vocab_size} pieces but the encoder's vocab_size is "
                            f"{cfg.vocab_size}")
        if isinstance(tok, SentencePieceTokenizer) and saved is not None and not saved.is_file():
            tok.save(saved)
        out.append(tok)
    return out


def encoder_inputs(prompts: Sequence[str], cfg: TextEncoderConfig) -> list[str]:
    """What an encoder reads: the whole prompt, or only its quoted spans (ByT5)."""
    return list(prompts) if cfg.input == "prompt" else [quoted_text(p) for p in prompts]


def encode_prompts(prompts: Sequence[str], encoders: Sequence[TextEncoderConfig],
                   tokenizers: Sequence, truncated: collections.Counter | None = None) -> list[TokenBatch]:
    """Tokenize for every encoder; prompts longer than an encoder's limit are truncated and reported, never silently.
    `truncated`: a running count per encoder (a training loader's), reported each time it reaches 1, 10, 100, ...
    instead of on every batch."""
    batches = []
    for cfg, tok in zip(encoders, tokenizers):
        batch = tok.encode(encoder_inputs(prompts, cfg), cfg.max_length)
        if batch.num_truncated and truncated is None:
            log.warning("%d of %d prompts exceed %s's %d tokens and were truncated", batch.num_truncated,
                        len(prompts), cfg.name, cfg.max_length)
        elif batch.num_truncated:
            before = truncated[cfg.name]
            truncated[cfg.name] += batch.num_truncated
            if before == 0 or len(str(truncated[cfg.name])) > len(str(before)):  # the first, or a new power of ten
                log.warning("%d captions so far exceed %s's %d tokens and were truncated (reported again at each "
                            "power of ten)", truncated[cfg.name], cfg.name, cfg.max_length)
        batches.append(batch)
    return batches
