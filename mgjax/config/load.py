"""Loading an experiment file from `configs/`, applying overrides, validating, printing and saving the result."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
from typing import Any

from mgjax.config.overrides import apply_overrides, check_types
from mgjax.config.schema import Config
from mgjax.config.validate import validate
from mgjax.errors import UserError


def load_config(path: str | pathlib.Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Run `get_config()` from a config file, apply `--set` overrides, and validate the result."""
    path = pathlib.Path(path)
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("*.py")) if path.parent.is_dir() else []
        hint = f"; configs in {path.parent}: {', '.join(near)}" if near else ""
        raise UserError(f"config file {str(path)!r} not found{hint}")
    spec = importlib.util.spec_from_file_location(f"mgjax_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserError(f"config file {str(path)!r} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, Config):
        raise UserError(f"get_config() in {str(path)!r} returned {type(config).__name__}, expected mgjax Config")
    config = apply_overrides(config, overrides)
    check_types(config)
    validate(config)
    return config


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


def format_config(config: Config) -> str:
    return "\n".join(f"  {k} = {v!r}" for k, v in flatten(config).items())


def save_config(config: Config, workdir: str | pathlib.Path) -> pathlib.Path:
    """Write the resolved config as JSON into the workdir (what a run actually used, overrides included)."""
    path = pathlib.Path(workdir) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_dict(config), indent=2, sort_keys=True))
    tmp.replace(path)  # atomic: a crash never leaves a half-written config
    return path
