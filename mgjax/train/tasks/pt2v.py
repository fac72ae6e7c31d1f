"""Personalized Movie Gen Video (paper §4): the text-to-video model with a reference image's CLIP vision tokens
beside the text, fine-tuned from a text-to-video run (`train.init_from`) on Characters clips in three stages, set by
the config: I paired references on short clips with the vision encoder frozen; II longer clips; III cross-paired
references with the vision encoder trained (`configs/shapes_pt2v_stage*.py`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.checkpoint.restore import clip_vision_params
from mgjax.config.pt2v import PT2VModelConfig
from mgjax.config.schema import Config
from mgjax.convert.clip import load_clip_vision
from mgjax.convert.safetensors import Checkpoint
from mgjax.data.pt2v_loader import caption_corpus, pt2v_batches
from mgjax.errors import UserError
from mgjax.models.pt2v import build_personalized
from mgjax.parallel.rules import video_rules
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.t2v_step import flow_matching_loss, make_train_step
from mgjax.train.tasks.base import count, one_device_mesh
from mgjax.train.tasks.registry import register_task
from mgjax.train.tasks.t2v import TextToVideoTask


@register_task
class PT2VTask(TextToVideoTask):
    name = "pt2v"
    model_config = PT2VModelConfig
    evaluator = "mgjax.eval.pt2v"

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m, p = cfg.model, cfg.data.pt2v
        if cfg.data.source != "moving_shapes":
            raise UserError(f"the pt2v task trains on Characters (Moving Shapes with an identity); set "
                            f"data.source=moving_shapes (got {cfg.data.source})")
        if m.context_widths != (m.vision.width,) or m.cond_channels or m.time_cond_width:
            raise UserError("model.context_widths must be (model.vision.width,) and no other conditioning set: build "
                            "the model with mgjax.config.pt2v.pt2v_model(...)")
        if m.vision.image_size % m.vision.patch_size:
            raise UserError(f"model.vision.image_size ({m.vision.image_size}) must be a multiple of its patch_size "
                            f"({m.vision.patch_size})")
        if not 0 <= p.cross_pair_prob <= 1 or not 0 <= p.reference_drop_prob < 1:
            raise UserError("data.pt2v.cross_pair_prob must be in [0, 1] and reference_drop_prob in [0, 1)")

    def tokenizer_corpus(self) -> list[str]:
        return caption_corpus(self.cfg)

    def build_model(self):
        return build_personalized(self.cfg)

    def load_pretrained(self, model) -> None:
        """Also the vision tower: from a trained CLIP (`model.vision_from`) or Hugging Face weights
        (`model.vision.checkpoint`); a parent run that has one (stage II -> III) overrides both."""
        super().load_pretrained(model)
        v = self.cfg.model
        if v.vision_from:
            state = nnx.state(model.vision, nnx.Param)
            target = nnx.to_pure_dict(state)
            weights = clip_vision_params(v.vision_from, v.vision)
            placed = jax.tree.map(lambda w, t: jax.device_put(jnp.asarray(w, t.dtype), t.sharding), weights, target)
            nnx.replace_by_pure_dict(state, placed)
            nnx.update(model.vision, state)
        elif v.vision.checkpoint:
            load_clip_vision(model.vision, Checkpoint(v.vision.checkpoint), f"CLIP vision {v.vision.checkpoint!r}")

    def make_step(self, phase):
        drop = self.cfg.data.pt2v.reference_drop_prob

        def more_noise(key, batch, latent_shape):
            return {"keep_reference": ~jax.random.bernoulli(key, drop, (batch["reference"].shape[0],))}

        def conditioning(batch, noise):
            return batch["reference"], noise["keep_reference"]

        loss = functools.partial(flow_matching_loss, conditioning=conditioning)
        return make_train_step(self.graphdef, self.cfg, self.codec, self.tx, self.null_tokens, loss_fn=loss,
                               more_noise=more_noise)

    def batches(self, start_step, data_state=None):
        return pt2v_batches(self.cfg, self.tokenizers, start_step=start_step)

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        """The text-to-video batch (latents, tokens) plus the reference images."""
        d = self.cfg.data
        sharding = batch_sharding(mesh, 4, video_rules(self.cfg.mesh.parallelism), batch_size)
        reference = jax.ShapeDtypeStruct((batch_size, d.height, d.width, 3), jnp.uint8, sharding=sharding)
        return {**super().abstract_batch(mesh, batch_size), "reference": reference}

    def report(self) -> dict:
        r = super().report()
        with jax.set_mesh(one_device_mesh()):
            vision = nnx.state(nnx.eval_shape(self.build_model).vision, nnx.Param)
        r["parameters"]["pt2v/vision_encoder"] = count(vision)
        v = self.cfg.model.vision
        r["pt2v"] = {"tokens": 1 + (v.image_size // v.patch_size) ** 2, "width": v.width,
                     "trainable": self.cfg.model.vision_trainable}
        return r

    @staticmethod
    def format_report(r: dict) -> str:
        p = r["pt2v"]
        line = (f"pt2v: {p['tokens']} reference tokens of width {p['width']} beside the text (vision encoder "
                f"{'trained' if p['trainable'] else 'frozen'})")
        return TextToVideoTask.format_report(r) + "\n" + line
