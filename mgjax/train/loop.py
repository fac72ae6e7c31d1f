"""The text-to-video training loop: build on a mesh, resume if the workdir has a checkpoint, train, log, checkpoint."""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp

from mgjax.config import Config, format_config, save_config
from mgjax.data.t2v_loader import caption_corpus_for, t2v_batches
from mgjax.models.codec.base import build_codec
from mgjax.models.text.stack import encode_prompts, load_or_train_tokenizers
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.train.checkpoint import Checkpointer, checkpoint_dir
from mgjax.train.metrics import MetricsWriter
from mgjax.train.optim import learning_rate_schedule, make_optimizer
from mgjax.train.state import create_train_state, state_shardings
from mgjax.train.t2v_step import make_train_step


def null_prompt_tokens(cfg: Config, tokenizers) -> list[tuple[jax.Array, jax.Array]]:
    """The empty prompt per encoder, (1, m): the unconditional input of classifier-free guidance."""
    return [(jnp.asarray(t.ids), jnp.asarray(t.mask)) for t in encode_prompts([""], cfg.text.encoders, tokenizers)]


def train(cfg: Config, workdir: str | pathlib.Path, devices=None, verbose: bool = True,
          stop_after: int | None = None) -> dict[str, float]:
    """Train `cfg` in `workdir` (resuming from its latest checkpoint) and return the last logged metrics.

    `stop_after` ends this invocation after that many steps (with a checkpoint), as a preemption would; running again
    in the same workdir continues exactly where it stopped.
    """
    workdir = pathlib.Path(workdir)
    save_config(cfg, workdir)
    if verbose:
        print(f"config {cfg.name}:\n{format_config(cfg)}", flush=True)
    mesh = make_mesh(cfg.mesh, devices)
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, workdir, corpus=lambda: caption_corpus_for(cfg))
    codec = build_codec(cfg.codec)
    tx = make_optimizer(cfg.optim, cfg.train.steps)
    lr = learning_rate_schedule(cfg.optim, cfg.train.steps)
    writer = MetricsWriter(workdir, tensorboard=True)
    ckpt = Checkpointer(checkpoint_dir(workdir), keep=cfg.train.keep_checkpoints)
    last: dict[str, float] = {}
    with jax.set_mesh(mesh):
        graphdef, state = create_train_state(cfg, tx)
        start = ckpt.latest_step() or 0
        if start:
            state = dict(state, **ckpt.restore(state))
            print(f"resumed from step {start} in {ckpt.directory}", flush=True)
        shardings = state_shardings(state)
        step_fn = jax.jit(make_train_step(graphdef, cfg, codec, tx, null_prompt_tokens(cfg, tokenizers)),
                          donate_argnums=(0,), out_shardings=(shardings, None))
        batches = t2v_batches(cfg, tokenizers, start_step=start)
        t0, sum_loss, count = time.time(), 0.0, 0
        end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
        for step in range(start, end):
            state, metrics = step_fn(state, put_batch(next(batches), mesh, VIDEO_RULES))
            sum_loss, count = sum_loss + metrics["loss"], count + 1  # stays on device until logged
            done = step + 1
            if done % cfg.train.log_every == 0 or done == cfg.train.steps:
                mean_loss = float(sum_loss) / count  # waits for the device
                elapsed = time.time() - t0
                last = {"loss": mean_loss, "grad_norm": float(metrics["grad_norm"]),
                        "lr": float(lr(step)), "steps_per_s": count / max(elapsed, 1e-9)}
                writer.write(done, last)
                t0, sum_loss, count = time.time(), 0.0, 0
            if done % cfg.train.checkpoint_every == 0 or done == end:
                ckpt.save(done, state, meta={"config": cfg.name, "step": done})
        ckpt.close()
    writer.close()
    return last
