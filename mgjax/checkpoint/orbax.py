"""Orbax checkpoints of the train state: one item per part, so sampling restores only what it needs (EMA + rest).

Saves are async and atomic: Orbax writes a step into `<step>.orbax-checkpoint-tmp` and renames it when complete, so a
process killed mid-save leaves the previous step as the latest one. A restore reshards onto whatever the target's
shardings are (another mesh, device count or process count). tests/train/test_fault_tolerance.py checks all three.
"""

from __future__ import annotations

import contextlib
import gc
import pathlib
import sys
from typing import Any, Iterable

import jax
import orbax.checkpoint as ocp

from mgjax.config.load import diff_configs, format_diff, read_json_config
from mgjax.errors import UserError
from mgjax.nn.params import path_keys


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
        self.restored_step: int | None = None
        self.damaged_step: int | None = None  # a latest step that failed to restore (restore used the one before)
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save, create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any] | None = None, force: bool = False) -> None:
        # Orbax refuses empty items (e.g. `rest` when every encoder trains; they restore as empty) and bare scalars.
        args = {k: ocp.args.StandardSave(_boxed(v)) for k, v in state.items() if jax.tree.leaves(v)}
        args["meta"] = ocp.args.JsonSave(meta or {})
        self.manager.save(step, args=ocp.args.Composite(**args), force=force)

    def restore(self, target: dict[str, Any], items: Iterable[str] | None = None, step: int | None = None,
                config=None) -> dict:
        """Restore `items` (default: every key of `target`) onto the shapes, dtypes and shardings of `target`
        (arrays or ShapeDtypeStructs); `restored_step` says which step that was.

        The saved shapes are checked first: a checkpoint of another model is one UserError naming the differing arrays
        (and, given the run's `config`, the config keys that differ from its config.json). Without `step`, a latest
        step that cannot be read (a truncated file, a partial copy) is named in one line and the step before it is
        restored instead; never more than that one is passed over."""
        items = list(target) if items is None else items
        if step is not None:
            return self._restore(target, items, step, config)
        steps = sorted(self.manager.all_steps(), reverse=True)
        if not steps:
            raise UserError(f"no checkpoint in {str(self.directory)!r}; train first with "
                            f"`python -m mgjax train --config CONFIG --workdir {self.directory.parent}`")
        reasons = []
        for step in steps[:2]:
            with _quiet_abandoned_reads():  # collects a failed attempt's leftovers once its exception is gone
                try:
                    return self._restore(target, items, step, config)
                except UserError:
                    raise
                except Exception as e:  # noqa: BLE001  (TensorStore, JSON and OS errors of a damaged step)
                    first = str(e).strip().splitlines()[0].split(" See full")[0][:160] if str(e).strip() else ""
                    reasons.append(f"{type(e).__name__}: {first}")
            if step == steps[0] and len(steps) > 1:
                print(f"warning: checkpoint step {step} in {self.directory} cannot be restored ({reasons[0]}); "
                      f"using step {steps[1]}", flush=True)
                self.damaged_step = step
        if len(steps) < 2:
            raise UserError(f"checkpoint step {steps[0]} in {str(self.directory)!r} cannot be restored ({reasons[0]}) "
                            f"and there is no earlier step")
        raise UserError(f"checkpoints {steps[0]} and {steps[1]} in {str(self.directory)!r} both cannot be restored "
                        f"({reasons[1].split(':')[0]}); the files are damaged")

    def _restore(self, target, items, step: int, config) -> dict:
        check_saved_shapes(self, target, items, step, config)
        args = {k: ocp.args.StandardRestore(_abstract(_boxed(target[k]))) for k in items if jax.tree.leaves(target[k])}
        restored = self.manager.restore(step, args=ocp.args.Composite(**args))
        self.restored_step = step
        return {k: _unboxed(restored[k], target[k]) if k in args else target[k] for k in items}

    def set_aside(self, step: int) -> pathlib.Path:
        """Move a damaged step out of the checkpoint directory (kept, not deleted: it is the user's) so training can
        save that step again; -> where it went."""
        dest = self.directory.parent / "damaged_checkpoints" / str(step)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest = dest.with_name(f"{step}.{len(list(dest.parent.iterdir()))}")
        (self.directory / str(step)).rename(dest)
        self.manager.reload()
        return dest

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


@contextlib.contextmanager
def _quiet_abandoned_reads():
    """A failed restore abandons Orbax's other pending array reads; when collected they print their own errors as
    "Exception ignored in <coroutine>" tracebacks. The failure is reported in one line instead."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


def check_saved_shapes(ckpt: Checkpointer, target: dict[str, Any], items, step: int, config=None) -> None:
    """A UserError naming the arrays whose saved shape differs from `target`'s, or that only one side has."""
    differ: list[str] = []
    for item in items:
        if not jax.tree.leaves(target[item]):
            continue
        saved = ckpt.item_metadata(item, step)
        if saved is None:
            differ.append(f"{item} (not in the checkpoint)")
            continue
        want = {k: tuple(a.shape) for k, a in flat_names(_boxed(target[item]), item).items()}
        have = {k: tuple(a.shape) for k, a in flat_names(saved, item).items()}
        differ += shape_differences(want, have)
    if not differ:
        return
    hint = "; build the model with the run's config (--config WORKDIR/config.json, or --workdir alone)"
    if config is not None:
        diffs = run_config_diff(ckpt.directory.parent, config)
        if diffs:
            hint = f"; config keys that differ from the run's config.json: {diffs}"
    raise UserError(f"checkpoint step {step} in {str(ckpt.directory)!r} does not fit this model: "
                    f"{summarize_differences(differ)}{hint}")


def shape_differences(want: dict[str, tuple], have: dict[str, tuple]) -> list[str]:
    """`name (saved S, model S')` for every array whose saved shape differs from the model's or that one side lacks."""
    def shape(s) -> str:
        return "absent" if s is None else str(tuple(s))

    return [f"{name} (saved {shape(have.get(name))}, model {shape(want.get(name))})"
            for name in sorted(set(want) | set(have)) if want.get(name) != have.get(name)]


def flat_names(tree, prefix: str) -> dict[str, Any]:
    """`prefix/a/b/...` -> leaf for every leaf of a pytree: how checkpoint items and exports name their arrays."""
    return {"/".join((prefix, *path_keys(path))): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def summarize_differences(differ: list[str], shown: int = 2) -> str:
    more = f" and {len(differ) - shown} more" if len(differ) > shown else ""
    return f"{len(differ)} arrays differ, e.g. {'; '.join(differ[:shown])}{more}"


def run_config_diff(workdir: str | pathlib.Path, config) -> str:
    """The keys of `config` that differ from the run's saved config.json, formatted ("" when none or unreadable)."""
    path = pathlib.Path(workdir) / "config.json"
    if not path.is_file():
        return ""
    try:
        saved = read_json_config(path, lambda task: {"model": type(config.model), "loss": type(config.loss)
                                                     if config.loss is not None else None})
    except UserError:
        return ""
    return format_diff(diff_configs(saved, config))


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
