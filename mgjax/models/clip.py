"""CLIP (Radford et al. 2021): the text and vision towers of models/text/clip.py and models/vision/clip.py, each
projected to one embedding width, compared by cosine similarity times a learned temperature.

`CLIPScorer` is what other systems use a trained CLIP through (loaded by `mgjax.checkpoint.restore.load_clip`):
image and text embeddings, their similarities, CLIP-scores, and the vision tower's tokens (PT2V's reference features).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from mgjax.config.clip import IMAGE_MEAN, IMAGE_STD, CLIPModelConfig
from mgjax.models.text.clip import CLIPTextEncoder
from mgjax.models.vision.clip import CLIPVisionEncoder
from mgjax.nn.params import param
from mgjax.parallel.rules import TEXT_RULES, use_rules


def clip_pixels(images: jax.Array, size: int) -> jax.Array:
    """uint8 images (b, h, w, 3) -> what the vision tower reads: the centred square crop, resized to `size` (bicubic,
    antialiased, as CLIP's preprocessing), scaled to [0, 1] and normalised by CLIP's mean and std."""
    h, w = images.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = images[:, top:top + side, left:left + side].astype(jnp.float32) / 255.0
    if side != size:
        x = jnp.clip(jax.image.resize(x, (x.shape[0], size, size, 3), "bicubic"), 0.0, 1.0)
    return (x - jnp.asarray(IMAGE_MEAN)) / jnp.asarray(IMAGE_STD)


def unit(x: jax.Array) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-6)


class CLIPModel(nnx.Module):
    """Replicated like Movie Gen's MetaCLIP (paper Fig. 8: TEXT_RULES), the batch data-parallel."""

    def __init__(self, cfg: CLIPModelConfig, *, rngs: nnx.Rngs):
        with use_rules(TEXT_RULES):
            self.text = CLIPTextEncoder(cfg.text, rules=TEXT_RULES, rngs=rngs)
            self.vision = CLIPVisionEncoder(cfg.vision, rules=TEXT_RULES, rngs=rngs)
            self.logit_scale = param(nnx.initializers.constant(math.log(cfg.logit_scale_init)), (), ())
        self.log_scale_max = cfg.log_scale_max
        self.image_size = cfg.vision.image_size

    def encode_text(self, ids: jax.Array, mask: jax.Array) -> jax.Array:
        """Token ids and mask (b, m) -> unit-norm embeddings (b, embed_dim)."""
        return unit(self.text.pooled(self.text(ids, mask), mask))

    def encode_image(self, pixels: jax.Array) -> jax.Array:
        """`clip_pixels` output (b, size, size, 3) -> unit-norm embeddings (b, embed_dim)."""
        return unit(self.vision(pixels)[1])

    def scale(self) -> jax.Array:
        """exp(logit_scale), clamped at logit_scale_max (CLIP clamps the parameter after each step; clamping in the
        forward pass gives the same logits and stops its gradient past the bound)."""
        return jnp.exp(jnp.minimum(self.logit_scale[...], self.log_scale_max))

    def __call__(self, pixels: jax.Array, ids: jax.Array, mask: jax.Array) -> jax.Array:
        """Logits (b_images, b_texts): scaled cosine similarities."""
        return self.scale() * self.encode_image(pixels) @ self.encode_text(ids, mask).T


def contrastive_loss(logits: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """CLIP's symmetric InfoNCE over a batch of matching (image i, text i) pairs: the mean of the image->text and
    text->image cross-entropies; metrics include each direction's in-batch top-1 accuracy."""
    labels = jnp.arange(logits.shape[0])
    to_text = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    to_image = optax.softmax_cross_entropy_with_integer_labels(logits.T, labels).mean()
    metrics = {"image_to_text_top1": jnp.mean(jnp.argmax(logits, axis=1) == labels),
               "text_to_image_top1": jnp.mean(jnp.argmax(logits, axis=0) == labels)}
    return (to_text + to_image) / 2, metrics


class CLIPScorer:
    """A trained CLIP for inference: numpy in, numpy out, in batches of `batch_size` (one compile per shape)."""

    def __init__(self, model: CLIPModel, tokenizer, cfg: CLIPModelConfig, batch_size: int = 64):
        self.graphdef, self.params = nnx.split(model)
        self.tokenizer, self.cfg, self.batch_size = tokenizer, cfg, batch_size
        self.image_size = cfg.vision.image_size
        self._images = jax.jit(lambda p, x: nnx.merge(self.graphdef, p).encode_image(clip_pixels(x, self.image_size)))
        self._tokens = jax.jit(lambda p, x: nnx.merge(self.graphdef, p).vision(clip_pixels(x, self.image_size))[0])
        self._texts = jax.jit(lambda p, ids, mask: nnx.merge(self.graphdef, p).encode_text(ids, mask))

    @property
    def temperature(self) -> float:
        return float(nnx.merge(self.graphdef, self.params).scale())

    def _batched(self, fn, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"expected uint8 RGB images (n, h, w, 3), got {images.dtype} {images.shape}")
        out = []
        for i in range(0, len(images), self.batch_size):
            chunk = images[i:i + self.batch_size]
            pad = self.batch_size - len(chunk)  # a fixed batch shape: one compile
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)]) if pad else chunk
            out.append(np.asarray(fn(self.params, chunk))[: self.batch_size - pad])
        return np.concatenate(out)

    def image_embeddings(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (n, h, w, 3), any size (centre-cropped and resized) -> unit-norm embeddings (n, d)."""
        return self._batched(self._images, images)

    def image_tokens(self, images: np.ndarray) -> np.ndarray:
        """uint8 images -> the vision tower's last hidden states (n, 1 + patches, width), class token first."""
        return self._batched(self._tokens, images)

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> unit-norm embeddings (n, d); a text longer than the tower's positions is truncated (EOS kept)."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = list(texts[i:i + self.batch_size])
            n = len(chunk)
            tokens = self.tokenizer.encode(chunk + [""] * (self.batch_size - n), self.cfg.text.max_length)
            out.append(np.asarray(self._texts(self.params, tokens.ids, tokens.mask))[:n])
        return np.concatenate(out) if out else np.zeros((0, self.cfg.embed_dim), np.float32)

    def similarity(self, images: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarities (n_images, n_texts)."""
        return self.image_embeddings(images) @ self.text_embeddings(texts).T

    def clip_score(self, images: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Per pair (image i, text i): 100 * max(cosine, 0), the CLIP-score of torchmetrics and the Movie Gen Edit
        benchmarks' CLIP-based metrics."""
        if len(images) != len(texts):
            raise ValueError(f"clip_score pairs images with texts: {len(images)} images, {len(texts)} texts")
        cos = np.sum(self.image_embeddings(images) * self.text_embeddings(texts), axis=1)
        return 100.0 * np.maximum(cos, 0.0)
