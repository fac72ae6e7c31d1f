"""Contrastive image-text pretraining (CLIP) of the text tower and the vision tower that PT2V's reference encoder
starts from (paper §4: long-prompt MetaCLIP): the symmetric InfoNCE loss with a learned temperature, on Moving Shapes
stills and their captions. A trained run is loaded by other systems with `mgjax.checkpoint.restore.load_clip`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mgjax.config.clip import CLIPModelConfig
from mgjax.config.schema import Config
from mgjax.data.t2v_loader import caption_corpus_for, still_batches
from mgjax.errors import UserError
from mgjax.models.clip import CLIPModel, clip_pixels, contrastive_loss
from mgjax.models.text.stack import load_or_train_tokenizers
from mgjax.parallel.rules import TEXT_RULES
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.tasks.base import Task, count, one_device_mesh
from mgjax.train.tasks.registry import register_task


@register_task
class CLIPTask(Task):
    name = "clip"
    model_config = CLIPModelConfig
    evaluator = "mgjax.eval.clip_retrieval"
    config_sections = ("model", "data", "optim", "train", "eval", "mesh")

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m, d = cfg.model, cfg.data
        if m.text.kind != "clip":
            raise UserError(f"model.text must be a CLIP text tower (kind clip), got kind {m.text.kind}")
        if not m.text.projection_dim or m.text.projection_dim != m.vision.projection_dim:
            raise UserError(f"both towers project to the shared embedding: model.text.projection_dim "
                            f"({m.text.projection_dim}) must equal model.vision.projection_dim "
                            f"({m.vision.projection_dim}) and be > 0")
        if m.vision.image_size % m.vision.patch_size:
            raise UserError(f"model.vision.image_size ({m.vision.image_size}) must be a multiple of its patch_size "
                            f"({m.vision.patch_size})")
        if not 0 < m.logit_scale_init <= m.logit_scale_max:
            raise UserError(f"model.logit_scale_init ({m.logit_scale_init}) must be in (0, logit_scale_max "
                            f"= {m.logit_scale_max}]")
        if d.source != "moving_shapes" or d.num_frames != 1 or d.image_every:
            raise UserError("the clip task trains on Moving Shapes stills: set data.source=moving_shapes, "
                            "data.num_frames=1, data.image_every=0")

    def __init__(self, cfg: Config, workdir=None, *, abstract: bool = False):
        super().__init__(cfg, workdir, abstract=abstract)
        self.tokenizer = None
        if not abstract:
            self.tokenizer = load_or_train_tokenizers((cfg.model.text,), workdir,
                                                      corpus=lambda: caption_corpus_for(cfg))[0]

    def build_model(self) -> CLIPModel:
        return CLIPModel(self.cfg.model, rngs=nnx.Rngs(self.cfg.train.seed))

    def loss(self, model: CLIPModel, batch, key):
        ids, mask = batch["text"][0]
        logits = model(clip_pixels(batch["video"][:, 0], model.image_size), ids, mask)
        loss, metrics = contrastive_loss(logits)
        return loss, {**metrics, "temperature": model.scale()}

    def batches(self, start_step, data_state=None):
        return still_batches(self.cfg, self.cfg.model.text, self.tokenizer, start_step=start_step)

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        d, m = self.cfg.data, self.cfg.model.text.max_length
        video = jax.ShapeDtypeStruct((batch_size, 1, d.height, d.width, 3), jnp.uint8,
                                     sharding=batch_sharding(mesh, 5, TEXT_RULES, batch_size))
        tokens = batch_sharding(mesh, 2, TEXT_RULES, batch_size)
        return {"video": video, "text": [(jax.ShapeDtypeStruct((batch_size, m), jnp.int32, sharding=tokens),
                                          jax.ShapeDtypeStruct((batch_size, m), jnp.bool_, sharding=tokens))]}

    def report(self) -> dict:
        with jax.set_mesh(one_device_mesh()):
            params = nnx.to_pure_dict(nnx.state(nnx.eval_shape(self.build_model), nnx.Param))
        v, t = self.cfg.model.vision, self.cfg.model.text
        return {"config": self.cfg.name, "task": self.name,
                "parameters": {"clip/vision": count(params["vision"]), "clip/text": count(params["text"]),
                               "clip": count(params)},
                "clip": {"image_size": v.image_size, "patches": (v.image_size // v.patch_size) ** 2,
                         "text_positions": t.max_length, "embed_dim": self.cfg.model.embed_dim}}

    @staticmethod
    def format_report(r: dict) -> str:
        c = r["clip"]
        return Task.format_report(dict(r, notes=[f"CLIP: {c['image_size']} px images as {c['patches']} patches + a "
                                                 f"class token; {c['text_positions']} text positions; embeddings of "
                                                 f"{c['embed_dim']}"]))
