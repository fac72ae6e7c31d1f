"""What the shared training loop trains: one `Task` per `cfg.task`, each building its state, steps and batches.

A task's step may change with the phase of training (the TAE switches its adversarial and outlier-penalty losses on at
configured steps); the loop asks `phase(step)` and compiles one step per phase.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Callable, Hashable, Iterator

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import PartitionSpec as P

from mgjax.config import Config
from mgjax.data.t2v_loader import caption_corpus_for, t2v_batches, video_batches
from mgjax.models.tae.discriminator import PatchDiscriminator
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.models.tae.perceptual import load_lpips
from mgjax.models.text.stack import encode_prompts, load_or_train_tokenizers
from mgjax.pipelines.codec import load_codec
from mgjax.parallel.rules import TAE_RULES, VIDEO_RULES, Rules, use_rules
from mgjax.train.optim import make_optimizer
from mgjax.train.state import create_train_state
from mgjax.train.t2v_step import make_train_step
from mgjax.train.tae_step import make_tae_train_step, tae_phase


class Task:
    rules: Rules  # how batches shard
    state: dict[str, Any]

    def phase(self, step: int) -> Hashable:
        return None

    def make_step(self, phase: Hashable) -> Callable:
        raise NotImplementedError

    def batches(self, start_step: int, data_state: dict | None = None) -> Iterator[dict]:
        raise NotImplementedError

    def data_state(self) -> dict | None:
        """The input pipeline's state to checkpoint (None: the stream is a function of the step alone)."""
        return None


def null_prompt_tokens(cfg: Config, tokenizers) -> list[tuple[jax.Array, jax.Array]]:
    """The empty prompt per encoder, (1, m): the unconditional input of classifier-free guidance (with
    text.precomputed: the encoders' outputs for it, (1, m, d), stored beside the latent records)."""
    if cfg.text.precomputed:
        from mgjax.data.latent_records import load_null_text

        return [(jnp.asarray(h), jnp.asarray(m)) for h, m in load_null_text(cfg.data.latents_path)]
    return [(jnp.asarray(t.ids), jnp.asarray(t.mask)) for t in encode_prompts([""], cfg.text.encoders, tokenizers)]


def _replicated_step() -> jax.Array:
    return jax.device_put(jnp.zeros((), jnp.int32), P())


class TextToVideoTask(Task):
    rules = VIDEO_RULES

    def __init__(self, cfg: Config, workdir: pathlib.Path, fresh: bool = True):
        self.cfg = cfg
        self.tokenizers = load_or_train_tokenizers(cfg.text.encoders, workdir, corpus=lambda: caption_corpus_for(cfg))
        self.codec = load_codec(cfg.codec)
        self.tx = make_optimizer(cfg.optim, cfg.train.steps)
        self.graphdef, self.state = create_train_state(cfg, self.tx, pretrained=fresh)

    def make_step(self, phase):
        return make_train_step(self.graphdef, self.cfg, self.codec, self.tx,
                               null_prompt_tokens(self.cfg, self.tokenizers))

    def batches(self, start_step, data_state=None):
        self._batches = t2v_batches(self.cfg, self.tokenizers, start_step=start_step, state=data_state)
        return self._batches

    def data_state(self):
        get = getattr(getattr(self, "_batches", None), "get_state", None)
        return get() if get else None


def build_tae(cfg: Config, seed: int = 0) -> TemporalAutoencoder:
    return TemporalAutoencoder(cfg.codec.tae, rngs=nnx.Rngs(seed))


class TAETask(Task):
    rules = TAE_RULES

    def __init__(self, cfg: Config, workdir: pathlib.Path, fresh: bool = True):
        self.cfg = cfg
        loss = cfg.tae_loss
        self.tx = make_optimizer(cfg.optim, cfg.train.steps)
        disc_lr = loss.disc_learning_rate or cfg.optim.learning_rate
        # The discriminator keeps AdamW whatever the generator uses: hinge-loss PatchGANs are tuned with Adam.
        self.disc_tx = make_optimizer(dataclasses.replace(cfg.optim, learning_rate=disc_lr, optimizer="adamw"),
                                      cfg.train.steps)
        self.perceptual = load_lpips(loss.perceptual_weights) if loss.perceptual_weight > 0 else None
        self.graphdef, params = nnx.split(build_tae(cfg, cfg.train.seed))
        with use_rules(TAE_RULES):
            disc = PatchDiscriminator(loss.disc_channels, loss.disc_layers, rngs=nnx.Rngs(cfg.train.seed + 1))
        self.disc_graphdef, disc_params = nnx.split(disc)
        params, disc_params = nnx.to_pure_dict(params), nnx.to_pure_dict(disc_params)
        self.state = {"params": params, "opt_state": jax.jit(self.tx.init)(params), "disc": disc_params,
                      "disc_opt_state": jax.jit(self.disc_tx.init)(disc_params), "step": _replicated_step()}

    def phase(self, step):
        return tae_phase(self.cfg, step)

    def make_step(self, phase):
        return make_tae_train_step(self.graphdef, self.disc_graphdef, self.cfg, self.tx, self.disc_tx, phase,
                                   self.perceptual)

    def batches(self, start_step, data_state=None):
        return video_batches(self.cfg, start_step=start_step)


TASKS = {"t2v": TextToVideoTask, "tae": TAETask}


def build_task(cfg: Config, workdir: pathlib.Path, fresh: bool = True) -> Task:
    """Build under the active mesh: parameters and optimizer state come out sharded by their rules. `fresh`: no
    checkpoint will be restored, so pretrained weights (text encoders) are loaded."""
    return TASKS[cfg.task](cfg, workdir, fresh)
