"""Loading an experiment file from `configs/` (or a run's saved config.json), applying overrides, validating, printing,
saving and comparing the result."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import sys
import types
import typing
from typing import Any, Callable

from mgjax.config.overrides import apply_overrides, check_types
from mgjax.config.schema import Config
from mgjax.config.validate import validate
from mgjax.errors import UserError


# task name -> {"model": its model config class, "loss": its loss config class or None}: what a saved config.json's
# `model` and `loss` sections are rebuilt as (the task registry sits above config and passes it in).
SectionClasses = Callable[[str], dict[str, type | None]]
REPO = pathlib.Path(__file__).resolve().parents[2]


def load_config(path: str | pathlib.Path, overrides: list[str] | tuple[str, ...] = (),
                sections: SectionClasses | None = None) -> Config:
    """A config file's `get_config()` (or a run's saved config.json), with `--set` overrides applied, validated."""
    path = pathlib.Path(path)
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("[!_]*.py")) if path.parent.is_dir() else []
        hint = f"; configs in {path.parent}: {', '.join(near)}" if near else ""
        raise UserError(f"config file {str(path)!r} not found{hint}")
    config = read_json_config(path, sections) if path.suffix == ".json" else _run_config_file(path)
    config = apply_overrides(config, overrides)
    check_types(config)
    validate(config)
    return config


def _run_config_file(path: pathlib.Path) -> Config:
    # A user's own config file imports the shipped ones as a package (`from configs.shapes_t2v_tiny import
    # get_config`) wherever it lives, and its own neighbours by name.
    for directory in (str(REPO), str(path.parent.resolve())):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(f"mgjax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"config file {str(path)!r} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, Config):
        raise UserError(f"get_config() in {str(path)!r} returned {type(config).__name__}, expected mgjax Config")
    return config


def read_json_config(path: str | pathlib.Path, sections: SectionClasses | None = None) -> Config:
    """A config saved by `save_config` (a run's config.json), rebuilt field by field by the declared types."""
    path = pathlib.Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read the config {str(path)!r}: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{str(path)!r} is not a saved mgjax config (a JSON object)")
    classes = sections(data.get("task", Config.task)) if sections else {}
    return _from_dict(Config, data, "", classes)


def _from_dict(cls: type, data: Any, prefix: str, classes: dict[str, type | None] | None = None) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"bad saved config: {prefix.rstrip('.') or 'the root'} should be a section, got {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:  # a config.json from another mgjax version
        raise UserError(f"saved config has unknown key {prefix}{unknown[0]}; valid keys: {', '.join(sorted(names))}")
    hints, classes = typing.get_type_hints(cls), classes or {}
    kwargs = {}
    for name, value in data.items():  # missing keys keep their defaults (fields added since the run was saved)
        tp = classes[name] if name in classes else hints[name]
        if tp is None:
            kwargs[name] = None if value is None else _invalid(prefix + name, value)
            continue
        kwargs[name] = _from_json(value, tp, prefix + name)
    return cls(**kwargs)


def _invalid(key: str, value: Any):
    raise UserError(f"bad saved config: {key} should be absent (null) for this task, got {value!r}")


def _from_json(value: Any, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for a in args:  # the first type the value fits (a union of sections is chosen by the task instead)
            if a is not type(None):
                try:
                    return _from_json(value, a, key)
                except UserError:
                    continue
        raise UserError(f"bad saved config: {key}={value!r} fits none of {tp}")
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(v, args[0], key) for v in value)
        return tuple(_from_json(v, a, key) for v, a in zip(value, args))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value  # checked against the declared types by check_types


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """`{"model.width": 6144, "text.encoders.0.name": "ul2", ...}` for printing and diffing."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, key + "."))
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, v in enumerate(value):
                out.update(flatten(v, f"{key}.{i}."))
        else:
            out[key] = value
    return out


def format_config(config: Config, sections: tuple[str, ...] | None = None) -> str:
    """One `key = value` line per field; `sections`: only those top-level sections (and the root's plain fields)."""
    def shown(key: str) -> bool:
        return sections is None or "." not in key or key.split(".", 1)[0] in sections

    return "\n".join(f"  {k} = {v!r}" for k, v in flatten(config).items() if shown(k))


def save_config(config: Config, workdir: str | pathlib.Path) -> pathlib.Path:
    """Write the resolved config as JSON into the workdir (what a run actually used, overrides included)."""
    path = pathlib.Path(workdir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_dict(config), indent=2, sort_keys=True))
    tmp.replace(path)  # atomic: a crash never leaves a half-written config
    return path


def diff_configs(old: Config, new: Config) -> list[tuple[str, Any, Any]]:
    """(key, old value, new value) for every field that differs, in the order of `flatten`."""
    a, b = flatten(old), flatten(new)
    return [(k, a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]


def format_diff(diffs: list[tuple[str, Any, Any]], limit: int = 6) -> str:
    shown = ", ".join(f"{k} (run: {a!r}, now: {b!r})" for k, a, b in diffs[:limit])
    return shown + (f" and {len(diffs) - limit} more" if len(diffs) > limit else "")
