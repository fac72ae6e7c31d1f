"""Movie Gen Edit (paper §5): the text-to-video model with the input video on extra channels and a task embedding,
fully fine-tuned from a text-to-video run (`train.init_from`) in three stages (`data.edit.stage`): image edits, then
animated image edits and segmentation, then backtranslated edits, each mixed with text-to-video batches."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mgjax.config.edit import EditModelConfig
from mgjax.config.schema import Config
from mgjax.data.edit_loader import edit_batches
from mgjax.data.shape_edits import EDIT_TYPES, TASKS, ShapeEdits
from mgjax.data.t2v_loader import caption_corpus_for
from mgjax.errors import UserError
from mgjax.models.edit import build_editor
from mgjax.parallel.rules import video_rules
from mgjax.parallel.sharding import batch_sharding
from mgjax.train.edit_step import make_edit_step
from mgjax.train.tasks.base import count, one_device_mesh
from mgjax.train.tasks.registry import register_task
from mgjax.train.tasks.t2v import TextToVideoTask


@register_task
class EditTask(TextToVideoTask):
    name = "edit"
    model_config = EditModelConfig
    evaluator = "mgjax.eval.edit"

    @classmethod
    def validate(cls, cfg: Config) -> None:
        super().validate(cfg)
        m, e = cfg.model, cfg.data.edit
        if cfg.data.source != "moving_shapes":
            raise UserError(f"the edit task trains on synthetic Moving Shapes edits; set data.source=moving_shapes "
                            f"(got {cfg.data.source})")
        if (m.cond_channels, m.context_widths, m.time_cond_width) != (m.in_channels, (m.task_width,), m.task_width):
            raise UserError("model.cond_channels, context_widths and time_cond_width must be in_channels, "
                            "(task_width,) and task_width: build the model with mgjax.config.edit.edit_model(...)")
        if m.num_tasks < len(TASKS):
            raise UserError(f"model.num_tasks={m.num_tasks} is below the {len(TASKS)} tasks ({', '.join(TASKS)})")
        if e.stage not in (1, 2, 3):
            raise UserError(f"data.edit.stage must be 1, 2 or 3, got {e.stage}")
        if e.edit_every < 1:
            raise UserError(f"data.edit.edit_every must be >= 1, got {e.edit_every}")
        if not all(0 <= p <= 1 for p in (e.segment_prob, e.source_drop_prob, e.still_camera_prob)):
            raise UserError("data.edit.segment_prob, source_drop_prob and still_camera_prob must be in [0, 1]")

    def tokenizer_corpus(self) -> list[str]:
        return corpus(self.cfg)

    def build_model(self):
        return build_editor(self.cfg)

    def make_step(self, phase):
        return make_edit_step(self.graphdef, self.cfg, self.codec, self.tx, self.null_tokens)

    def batches(self, start_step, data_state=None):
        return edit_batches(self.cfg, self.tokenizers, start_step=start_step)

    def abstract_batch(self, mesh, batch_size: int) -> dict:
        """The text-to-video batch (latents, tokens) plus the input videos' latents, a black video's latent (what a
        dropped input becomes) and the task ids."""
        batch = super().abstract_batch(mesh, batch_size)
        latent, rules = batch["latent"], video_rules(self.cfg.mesh.parallelism)
        black = jax.ShapeDtypeStruct((1,) + latent.shape[1:], latent.dtype,
                                     sharding=batch_sharding(mesh, latent.ndim, rules, 1))
        task = jax.ShapeDtypeStruct((batch_size,), jnp.int32, sharding=batch_sharding(mesh, 1, rules, batch_size))
        return {**batch, "source_latent": latent, "black_latent": black, "task": task}

    def report(self) -> dict:
        r = super().report()
        params = self.abstract_state(one_device_mesh())["params"]
        r["parameters"]["edit/task_embedding"] = count(params["task_embed"]) + count(params["task_tokens"])
        m = self.cfg.model
        r["edit"] = {"patchify_in_channels": m.in_channels + m.cond_channels, "task_tokens": m.task_tokens,
                     "task_width": m.task_width, "tasks": list(TASKS[:m.num_tasks])}
        return r

    @staticmethod
    def format_report(r: dict) -> str:
        e = r["edit"]
        line = (f"edit: patchify input {e['patchify_in_channels']} channels (noisy latent + input video's latent); "
                f"{e['task_tokens']} task tokens of width {e['task_width']} beside the text; tasks "
                f"{', '.join(e['tasks'])}")
        return TextToVideoTask.format_report(r) + "\n" + line


def corpus(cfg: Config) -> list[str]:
    """Captions and edit instructions, for a tokenizer trained from scratch."""
    edits = ShapeEdits("train", num_frames=1, types=EDIT_TYPES, height=cfg.data.height, width=cfg.data.width)
    return list(caption_corpus_for(cfg)) + [edits.edit(i).instruction for i in range(2000)]
