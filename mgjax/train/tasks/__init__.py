"""Tasks: what the training loop, `inspect`, `aot`, `export` and `average` train or look at (base.py says what a task
owns). The built-in tasks register on import; a new one registers with `register_task`."""

from __future__ import annotations

import pathlib

from mgjax.config.load import load_config as load_config_file
from mgjax.config.schema import Config
from mgjax.config.validate import validate as validate_sections
from mgjax.train.tasks import clip, dac_vae, edit, pt2v, t2v, tae, upsample
from mgjax.train.tasks.base import Task
from mgjax.train.tasks.registry import TASKS, get_task, register_task

__all__ = ["TASKS", "Task", "clip", "dac_vae", "edit", "get_task", "load_config", "pt2v", "register_task", "t2v", "tae",
           "task_for", "upsample", "validate"]


def section_classes(task: str) -> dict[str, type | None]:
    """The config classes of a task's `model` and `loss` sections (how a saved config.json is read back)."""
    cls = get_task(task)
    return {"model": cls.model_config, "loss": cls.loss_config}


def load_config(path: str | pathlib.Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """An experiment file (or a run's config.json) with its `--set` overrides, checked section by section and then by
    its task."""
    cfg = load_config_file(path, overrides, section_classes)
    get_task(cfg.task).validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Every check a loaded config gets: its task-independent sections, then its task's own."""
    validate_sections(cfg)
    get_task(cfg.task).validate(cfg)


def task_for(cfg: Config, workdir: str | pathlib.Path | None = None, *, abstract: bool = False) -> Task:
    """The config's task, built (`abstract`: for shapes only, reading nothing from disk)."""
    return get_task(cfg.task)(cfg, workdir, abstract=abstract)
