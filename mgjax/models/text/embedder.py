"""Frozen text encoders on their own, outside the video model: prompts -> per-encoder (hidden, mask).

With `text.precomputed`, training reads these outputs from the latent records instead of running the encoders (the
paper's frozen encoders cost nothing at training time then), and sampling computes them here. Encoders load their
`checkpoint`; one without (a tiny demo) starts from a seeded random init, the same in precompute and in sampling.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config.text import TextEncoderConfig
from mgjax.models.text.stack import build_encoder, encode_prompts, load_pretrained_encoders

EMBEDDER_SEED = 7919  # fixed: precompute and sampling must build identical frozen encoders


class TextEmbedder:
    """Build under `jax.set_mesh(mesh)`. `embed(prompts)` -> [(hidden (b, m_i, d_i) float32, mask (b, m_i))]."""

    def __init__(self, encoders: Sequence[TextEncoderConfig], tokenizers: Sequence, seed: int = EMBEDDER_SEED):
        if any(e.kind == "external" for e in encoders):
            raise ValueError("an external encoder's outputs cannot be computed here")
        self.encoders, self.tokenizers = tuple(encoders), tuple(tokenizers)
        modules = [build_encoder(e, rngs=nnx.Rngs(seed + i)) for i, e in enumerate(encoders)]
        load_pretrained_encoders(modules, encoders)
        graphdefs, self.states = zip(*(nnx.split(m) for m in modules))
        self._run = [jax.jit(lambda s, ids, mask, g=g: nnx.merge(g, s)(ids, mask)) for g in graphdefs]

    def embed(self, prompts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for run, state, batch in zip(self._run, self.states, encode_prompts(prompts, self.encoders, self.tokenizers)):
            hidden = run(state, jnp.asarray(batch.ids), jnp.asarray(batch.mask))
            out.append((np.asarray(hidden, np.float32), batch.mask))
        return out
