"""The registry of tasks: `register_task` on a Task subclass makes `cfg.task = <its name>` train it."""

from __future__ import annotations

from mgjax.errors import UserError

TASKS: dict[str, type] = {}


def register_task(cls: type) -> type:
    """Class decorator; the class's `name` is what configs put in `task`."""
    TASKS[cls.name] = cls
    return cls


def get_task(name: str) -> type:
    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; registered tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]
