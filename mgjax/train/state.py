"""Building the model and its train state on a mesh."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import PartitionSpec as P

from mgjax.config.schema import Config
from mgjax.models.t2v import TextToVideo, trainable_filter
from mgjax.models.text.stack import load_pretrained_encoders
from mgjax.train.t2v_step import TrainState


def build_model(cfg: Config) -> TextToVideo:
    """Create the model under the active mesh (`jax.set_mesh`): parameters come out sharded by their rules."""
    return TextToVideo(cfg, rngs=nnx.Rngs(cfg.train.seed))


def split_model(cfg: Config, model: TextToVideo):
    """-> graphdef, trainable params, rest (frozen encoders and any non-trainable variables), as pure dicts."""
    graphdef, params, rest = nnx.split(model, trainable_filter(cfg), ...)
    return graphdef, nnx.to_pure_dict(params), nnx.to_pure_dict(rest)


def create_train_state(cfg: Config, tx: optax.GradientTransformation, pretrained: bool = True):
    """-> (graphdef, state). Optimizer moments and EMA inherit the parameters' shardings. `pretrained`: load the text
    encoders' configured checkpoints (a fresh run; a resumed one restores them from its own checkpoint)."""
    model = build_model(cfg)
    if pretrained:
        load_pretrained_encoders(model.text_encoders, cfg.text.encoders)
    graphdef, params, rest = split_model(cfg, model)
    opt_state = jax.jit(tx.init)(params)
    ema = jax.tree.map(jnp.copy, params)
    state: TrainState = {"params": params, "rest": rest, "opt_state": opt_state, "ema": ema,
                         "step": jax.device_put(jnp.zeros((), jnp.int32), P())}  # replicated on the mesh
    return graphdef, state


def state_shardings(state: TrainState):
    return jax.tree.map(lambda a: a.sharding, state)
