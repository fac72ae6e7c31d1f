"""Personalized Movie Gen Video (paper §4): the text-to-video model with a CLIP vision encoder. The reference image,
masked to its subject, goes through the encoder; its output tokens (class token and patches) are projected by the
backbone's zero-initialised context projection and joined to the text tokens, so the backbone sees them through its
existing cross-attention. A model initialised from a text-to-video run (`train.init_from`) gives its parent's output
until training opens that projection; a reference dropped for guidance is masked out of the attention entirely.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.clip import clip_pixels
from mgjax.models.t2v import TextToVideo
from mgjax.models.video.transformer import Conditioning
from mgjax.models.vision.clip import CLIPVisionEncoder
from mgjax.parallel.rules import TEXT_RULES, use_rules


class PersonalizedVideo(TextToVideo):
    """u_theta(X_t, P, t | reference image): `cfg.model` is a `PT2VModelConfig` (mgjax/config/pt2v.py)."""

    def __init__(self, cfg: Config, *, rngs: nnx.Rngs):
        super().__init__(cfg, rngs=rngs)
        with use_rules(TEXT_RULES):  # replicated, as the paper's MetaCLIP (Fig. 8)
            self.vision = CLIPVisionEncoder(cfg.model.vision, rules=TEXT_RULES, rngs=rngs)
        self.vision_trainable = cfg.model.vision_trainable
        self.image_size = cfg.model.vision.image_size

    def reference_tokens(self, reference: jax.Array) -> jax.Array:
        """uint8 references (b, h, w, 3) -> the vision tower's last hidden states (b, 1 + patches, width)."""
        tokens = self.vision(clip_pixels(reference, self.image_size))[0]
        return tokens if self.vision_trainable else jax.lax.stop_gradient(tokens)

    def __call__(self, latents: jax.Array, t: jax.Array, tokens: Sequence[tuple[jax.Array, jax.Array]],
                 reference: jax.Array, keep: jax.Array) -> jax.Array:
        """reference: uint8 (b, h, w, 3); keep: (b,) bool, False where the reference is dropped (its tokens masked)."""
        vision = self.reference_tokens(reference)
        mask = jnp.broadcast_to(keep[:, None], vision.shape[:2])
        return self.backbone(latents, t, self.encode_text(tokens), Conditioning(context=((vision, mask),)))


def build_personalized(cfg: Config) -> PersonalizedVideo:
    """Create the model under the active mesh (`jax.set_mesh`): parameters come out sharded by their rules."""
    return PersonalizedVideo(cfg, rngs=nnx.Rngs(cfg.train.seed))
