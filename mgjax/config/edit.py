"""Movie Gen Edit's model config (paper §5.1): the text-to-video backbone plus the input video's latent on extra
channels and an Emu-Edit task embedding, all new weights zero-initialised."""

from __future__ import annotations

import dataclasses

from mgjax.config.video import VideoModelConfig


@dataclasses.dataclass(frozen=True)
class EditModelConfig(VideoModelConfig):
    """Build it with `edit_model(base)`, which ties the backbone's conditioning fields to these: cond_channels =
    in_channels (16 -> 32 patchify input channels in the paper), one context stream of `task_width` (the task tokens)
    and a timestep vector of `task_width` (the task embedding itself, through the backbone's zero-initialised map)."""

    # Task-embedding rows: text-to-video, the six edit types and stage II segmentation (mgjax/data/shape_edits.TASKS).
    num_tasks: int = 8
    task_width: int = 1024  # the learned task vector's width (paper silent; small beside the 6144-wide backbone)
    task_tokens: int = 4  # tokens one linear map makes of the task vector, joined to the text tokens (paper: 4)


def edit_model(base: VideoModelConfig, **overrides) -> EditModelConfig:
    """The edit model on a text-to-video backbone config (the parent run's `model`)."""
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(VideoModelConfig)}
    cfg = EditModelConfig(**{**fields, **overrides})
    return dataclasses.replace(cfg, cond_channels=cfg.in_channels, context_widths=(cfg.task_width,),
                               time_cond_width=cfg.task_width)
