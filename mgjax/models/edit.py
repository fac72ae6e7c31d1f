"""Movie Gen Edit (paper §5.1): the text-to-video model with the input video's latent concatenated to the noisy latent
on channels and an Emu-Edit task embedding. A learned vector per task becomes 4 tokens joined to the text tokens (one
linear map here, then the backbone's zero-initialised context projection) and is added to the timestep embedding
(through the backbone's zero-initialised time map). With every new input weight at zero, a model initialised from a
text-to-video run (`train.init_from`) gives its parent's output until training moves them.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.schema import Config
from mgjax.models.t2v import TextToVideo
from mgjax.models.video.transformer import Conditioning
from mgjax.nn.dtypes import dtype_of
from mgjax.nn.linear import linear
from mgjax.parallel.rules import use_rules, video_rules


class VideoEditor(TextToVideo):
    """u_theta(X_t, P, t | input video latent, task): `cfg.model` is an `EditModelConfig` (mgjax/config/edit.py)."""

    def __init__(self, cfg: Config, *, rngs: nnx.Rngs):
        super().__init__(cfg, rngs=rngs)
        m = cfg.model
        pd = dtype_of(m.param_dtype)
        self.task_embed = nnx.Embed(m.num_tasks, m.task_width, param_dtype=pd,
                                    embedding_init=nnx.initializers.normal(1.0), rngs=rngs)
        with use_rules(video_rules(cfg.mesh.parallelism)):  # small: replicated
            self.task_tokens = linear(m.task_width, m.task_tokens * m.task_width, (None, None), param_dtype=pd,
                                      rngs=rngs)
        self.num_task_tokens = m.task_tokens

    def __call__(self, latents: jax.Array, t: jax.Array, tokens: Sequence[tuple[jax.Array, jax.Array]],
                 source: jax.Array, task: jax.Array, frame_offset: jax.Array | None = None) -> jax.Array:
        """latents, source: (b, t, h, w, c), the input video's latent (a black video's for text-to-video); task: (b,)
        ids (mgjax/data/shape_edits.TASKS; 0 is text-to-video)."""
        b = latents.shape[0]
        vector = self.task_embed(task)
        task_tokens = self.task_tokens(vector).reshape(b, self.num_task_tokens, -1)
        cond = Conditioning(latent=source, context=((task_tokens, jnp.ones((b, self.num_task_tokens), bool)),),
                            vector=vector, frame_offset=frame_offset)
        return self.backbone(latents, t, self.encode_text(tokens), cond)


def build_editor(cfg: Config) -> VideoEditor:
    """Create the model under the active mesh (`jax.set_mesh`): parameters come out sharded by their rules."""
    return VideoEditor(cfg, rngs=nnx.Rngs(cfg.train.seed))
