"""Text-to-video: the text encoders and the Movie Gen Video backbone as one NNX module tree."""

from __future__ import annotations

from typing import Sequence

import jax
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.text.stack import build_encoder
from mgjax.models.video.transformer import Conditioning, MovieGenVideo
from mgjax.parallel.rules import use_rules, video_rules


class TextToVideo(nnx.Module):
    """Create under `jax.set_mesh(mesh)`: each component is built under its own logical-axis rules and comes out
    sharded. Frozen encoders (the paper's setting) get no gradient and are left out of the optimizer."""

    def __init__(self, cfg: Config, *, rngs: nnx.Rngs):
        # None: the encoder's outputs arrive with the batch (an external encoder, or text.precomputed)
        self.text_encoders = nnx.List([None if cfg.text.precomputed and not e.trainable else build_encoder(e, rngs=rngs)
                                       for e in cfg.text.encoders])
        rules = video_rules(cfg.mesh.parallelism)
        with use_rules(rules):
            self.backbone = MovieGenVideo(cfg.model, [e.width for e in cfg.text.encoders], rules=rules,
                                          rngs=rngs)
        self.trainable_encoders = tuple(e.trainable for e in cfg.text.encoders)

    def encode_text(self, tokens: Sequence[tuple[jax.Array, jax.Array]]) -> list[tuple[jax.Array, jax.Array]]:
        """[(ids (b, m_i), mask (b, m_i))] per encoder -> [(hidden (b, m_i, d_i), mask)]. An external encoder's entry
        already holds (hidden, mask) and passes through."""
        out = []
        for encoder, trainable, (ids, mask) in zip(self.text_encoders, self.trainable_encoders, tokens):
            hidden = ids if encoder is None else encoder(ids, mask)
            out.append((hidden if trainable else jax.lax.stop_gradient(hidden), mask))
        return out

    def __call__(self, latents: jax.Array, t: jax.Array, tokens: Sequence[tuple[jax.Array, jax.Array]],
                 cond: Conditioning | None = None) -> jax.Array:
        return self.backbone(latents, t, self.encode_text(tokens), cond)


def trainable_filter(cfg: Config):
    """An NNX filter selecting the parameters the optimizer updates: the backbone and any trainable encoder (PT2V's
    vision encoder where `model.vision_trainable`)."""
    frozen = {i for i, e in enumerate(cfg.text.encoders) if not e.trainable}
    vision_frozen = not getattr(cfg.model, "vision_trainable", True)

    def is_trainable(path, value) -> bool:
        if not isinstance(value, nnx.Param):
            return False
        if vision_frozen and path[0] == "vision":
            return False
        return not (len(path) > 1 and path[0] == "text_encoders" and int(path[1]) in frozen)

    return is_trainable


def build_model(cfg: Config) -> TextToVideo:
    """Create the model under the active mesh (`jax.set_mesh`): parameters come out sharded by their rules."""
    return TextToVideo(cfg, rngs=nnx.Rngs(cfg.train.seed))


def split_model(cfg: Config, model: TextToVideo):
    """-> graphdef, trainable params, rest (frozen encoders and any non-trainable variables), as pure dicts."""
    graphdef, params, rest = nnx.split(model, trainable_filter(cfg), ...)
    return graphdef, nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
