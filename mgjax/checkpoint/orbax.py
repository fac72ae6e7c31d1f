"""Orbax checkpoints of the train state: one item per part, so sampling restores only what it needs (EMA + rest).

Saves are async and atomic: Orbax writes a step into `<step>.orbax-checkpoint-tmp` and renames it when complete, so a
process killed mid-save leaves the previous step as the latest one. A restore reshards onto whatever the target's
shardings are (another mesh, device count or process count). tests/train/test_fault_tolerance.py checks all three.
"""

from __future__ import annotations

import pathlib
from typing import Any, Iterable

import jax
import orbax.checkpoint as ocp

from mgjax.errors import UserError


def _is_array(tree) -> bool:
    return isinstance(tree, (jax.Array, jax.ShapeDtypeStruct))


def _boxed(tree):
    return {"value": tree} if _is_array(tree) else tree


def _unboxed(restored, target):
    return restored["value"] if _is_array(target) else restored


def _abstract(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding), tree)


class Checkpointer:
    def __init__(self, directory: str | pathlib.Path, keep: int = 2, async_save: bool = True):
        self.directory = pathlib.Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save, create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any] | None = None, force: bool = False) -> None:
        # Orbax refuses empty items (e.g. `rest` when every encoder trains; they restore as empty) and bare scalars.
        args = {k: ocp.args.StandardSave(_boxed(v)) for k, v in state.items() if jax.tree.leaves(v)}
        args["meta"] = ocp.args.JsonSave(meta or {})
        self.manager.save(step, args=ocp.args.Composite(**args), force=force)

    def restore(self, target: dict[str, Any], items: Iterable[str] | None = None, step: int | None = None) -> dict:
        """Restore `items` (default: every key of `target`) onto the shapes, dtypes and shardings of `target`
        (arrays or ShapeDtypeStructs)."""
        items = list(target) if items is None else items
        step = self.latest_step() if step is None else step
        if step is None:
            raise UserError(f"no checkpoint in {str(self.directory)!r}; train first with "
                            f"`python -m mgjax train --config CONFIG --workdir {self.directory.parent}`")
        args = {k: ocp.args.StandardRestore(_abstract(_boxed(target[k]))) for k in items if jax.tree.leaves(target[k])}
        restored = self.manager.restore(step, args=ocp.args.Composite(**args))
        return {k: _unboxed(restored[k], target[k]) if k in args else target[k] for k in items}

    def item_metadata(self, item: str, step: int | None = None):
        """The saved shapes and dtypes of one item (a tree of Orbax ArrayMetadata), without reading its arrays; None
        when the step has no such item."""
        step = self.latest_step() if step is None else step
        path = self.directory / str(step) / item
        if not path.is_dir():
            return None
        return ocp.StandardCheckpointHandler().metadata(path).tree

    def restore_meta(self, step: int | None = None) -> dict:
        """The JSON metadata saved with a step (config name, task, data-pipeline state)."""
        step = self.latest_step() if step is None else step
        return dict(self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"] or {})

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def checkpoint_dir(workdir: str | pathlib.Path) -> pathlib.Path:
    return pathlib.Path(workdir) / "checkpoints"


def check_run(workdir: str | pathlib.Path) -> pathlib.Path:
    """The run's checkpoint directory; a run without checkpoints is a one-line user error."""
    directory = checkpoint_dir(workdir)
    if not directory.is_dir() or not any(p.name.isdigit() for p in directory.iterdir()):
        raise UserError(f"no checkpoint found in {str(directory)!r}; train first with "
                        f"`python -m mgjax train --config CONFIG --workdir {workdir}`")
    return directory


def open_existing(workdir: str | pathlib.Path) -> Checkpointer:
    """A checkpointer over a training run's checkpoints; a missing run is a one-line user error."""
    return Checkpointer(check_run(workdir), async_save=False)
