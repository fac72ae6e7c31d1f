"""`--set a.b=c` overrides applied to a frozen config, with one-line errors that name the valid options."""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from typing import Any, Literal

from mgjax.errors import UserError


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse(raw: str, tp: Any, key: str) -> Any:
    """Parse the text `raw` as a value of type `tp`, or raise a UserError naming what was expected."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if raw not in args:
            raise UserError(f"bad value {raw!r} for {key}; valid options: {', '.join(map(str, args))}")
        return raw
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse(raw, a, key)
            except UserError as e:
                errors.append(str(e))
        raise UserError(errors[0] if errors else f"bad value {raw!r} for {key}")
    if tp is bool:
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise UserError(f"bad value {raw!r} for {key}; expected true or false")
    if tp in (int, float):
        try:
            value = tp(raw) if tp is float else int(raw, 0)
        except ValueError:
            raise UserError(f"bad value {raw!r} for {key}; expected {tp.__name__}") from None
        return value
    if tp is str:
        return raw
    if origin is tuple and raw.strip()[1:].lstrip().startswith(("(", "[")):  # nested: ((32, 32), (32, 48))
        try:
            value = _tuples(ast.literal_eval(raw.strip()))
        except (ValueError, SyntaxError):
            raise UserError(f"bad value {raw!r} for {key}; expected a Python tuple literal such as "
                            f"((32, 32), (48, 32))") from None
        _check_value(value, tp, key)
        return value
    if origin is tuple:
        items = raw.strip("()[] ").split(",") if raw.strip("()[] ") else []
        items = [s.strip() for s in items if s.strip()]
        elem = args[0] if args else str
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
            return tuple(_parse(s, elem, key) for s in items)
        if len(items) != len(args):
            raise UserError(f"bad value {raw!r} for {key}; expected {len(args)} comma-separated values")
        return tuple(_parse(s, a, key) for s, a in zip(items, args))
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise UserError(f"bad value {raw!r} for {key}") from None


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _set(node: Any, path: list[str], raw: str, full_key: str) -> Any:
    """Return a copy of `node` (a dataclass or a tuple of dataclasses) with `path` set to `raw`."""
    name, rest = path[0], path[1:]
    if isinstance(node, tuple):
        if not name.isdigit() or int(name) >= len(node):
            raise UserError(f"bad index {name!r} in {full_key}; valid indices: 0..{len(node) - 1}")
        i = int(name)
        return node[:i] + (_set(node[i], rest, raw, full_key),) + node[i + 1 :]
    fields = {f.name for f in dataclasses.fields(node)}
    if name not in fields:
        parent = full_key[: -len(".".join(path))].rstrip(".") or "the config"
        raise UserError(f"unknown config key {full_key!r}; valid keys in {parent}: {', '.join(sorted(fields))}")
    current = getattr(node, name)
    if rest:
        if not (dataclasses.is_dataclass(current) or isinstance(current, tuple) and current and
                dataclasses.is_dataclass(current[0])):
            raise UserError(f"unknown config key {full_key!r}; {name!r} has no sub-keys")
        return dataclasses.replace(node, **{name: _set(current, rest, raw, full_key)})
    if dataclasses.is_dataclass(current):
        raise UserError(f"{full_key!r} is a section; set one of its keys, e.g. {full_key}.{dataclasses.fields(current)[0].name}=...")
    return dataclasses.replace(node, **{name: _parse(raw, _hints(type(node))[name], full_key)})


def apply_overrides(config: Any, overrides: list[str] | tuple[str, ...]) -> Any:
    """Apply `key.path=value` strings in order; each value is parsed by the field's declared type."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"bad override {item!r}; expected key.path=value, e.g. model.num_layers=4")
        key, raw = item.split("=", 1)
        key = key.strip()
        config = _set(config, key.split("."), raw.strip(), key)
    return config


def check_types(node: Any, prefix: str = "") -> None:
    """Check every field against its declared type (Literals, numbers, tuples), so a config file is as strict as --set."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        key = f"{prefix}{f.name}"
        tp = _hints(type(node))[f.name]
        if dataclasses.is_dataclass(value):
            check_types(value, key + ".")
            continue
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, v in enumerate(value):
                check_types(v, f"{key}.{i}.")
            continue
        _check_value(value, tp, key)


def _check_value(value: Any, tp: Any, key: str) -> None:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        if value not in args:
            raise UserError(f"bad value {value!r} for {key}; valid options: {', '.join(map(str, args))}")
    elif origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        for a in args:
            try:
                _check_value(value, a, key)
                return
            except UserError:
                pass
        raise UserError(f"bad value {value!r} for {key}; expected {tp}")
    elif tp is bool or tp is str:
        if not isinstance(value, tp):
            raise UserError(f"bad value {value!r} for {key}; expected {tp.__name__}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"bad value {value!r} for {key}; expected int")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"bad value {value!r} for {key}; expected float")
    elif origin is tuple:
        if not isinstance(value, tuple):
            raise UserError(f"bad value {value!r} for {key}; expected a tuple")
        if len(args) == 2 and args[1] is Ellipsis:
            for v in value:
                _check_value(v, args[0], key)
        elif args:
            if len(value) != len(args):
                raise UserError(f"bad value {value!r} for {key}; expected {len(args)} values")
            for v, a in zip(value, args):
                _check_value(v, a, key)
