"""Typed dataclass configs: help text per field, YAML loading, command-line overrides.

    @dataclass
    class MyConfig:
        steps: int = opt(100, "Optimizer steps.")

    cfg = resolve_config(MyConfig, yaml_path="x.yaml", overrides={"steps": 5})

Precedence: field defaults < YAML file < explicit overrides (usually the command line).
Unknown keys and values of the wrong type raise SymtuneError naming the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError


def opt(default: Any, help: str, choices: list | tuple | None = None, cli: bool = True):
    """A dataclass field with a help string (and optional choices)."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "cli": cli}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _strip_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(name: str, tp, value, source: str):
    """Check/convert one value against a field type; raise a one-line error on mismatch."""
    base, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise SymtuneError(f"{source}: '{name}' must not be empty (expected {getattr(base, '__name__', base)})")
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        (inner,) = typing.get_args(base)[:1] or (str,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise SymtuneError(f"{source}: '{name}' must be a list, got {value!r}")
        return [_coerce(name, inner, v, source) for v in value]
    if origin is dict or base is dict:
        if not isinstance(value, dict):
            raise SymtuneError(f"{source}: '{name}' must be a mapping, got {value!r}")
        return dict(value)
    if base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise SymtuneError(f"{source}: '{name}' must be true or false, got {value!r}")
    if base is int:
        if isinstance(value, bool):
            raise SymtuneError(f"{source}: '{name}' must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise SymtuneError(f"{source}: '{name}' must be an integer, got {value!r}")
    if base is float:
        if isinstance(value, bool):
            raise SymtuneError(f"{source}: '{name}' must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise SymtuneError(f"{source}: '{name}' must be a number, got {value!r}")
    if base is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise SymtuneError(f"{source}: '{name}' must be a string, got {value!r}")
    return value


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def validate(cfg) -> None:
    """Check choices on every field (types were checked on the way in)."""
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if not choices or value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v not in choices:
                raise SymtuneError(
                    f"option '{f.name}': unknown value {v!r}; choose one of {', '.join(map(str, choices))}"
                )


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise SymtuneError(f"config file {p} does not exist; pass an existing YAML file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SymtuneError(f"config file {p} is not valid YAML ({str(e).splitlines()[0]}); fix its syntax")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SymtuneError(f"config file {p} must hold a mapping of option: value at the top level")
    return data


def from_dict(cls, data: dict, source: str = "config"):
    """Build `cls` from a mapping, rejecting unknown keys and wrong types."""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SymtuneError(
            f"{source}: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(k, hints[k], v, source) for k, v in data.items()}
    cfg = cls(**kwargs)
    validate(cfg)
    return cfg


def resolve_config(cls, yaml_path: str | Path | None = None, overrides: dict | None = None, base: dict | None = None):
    """defaults < base (e.g. a preset) < YAML < overrides (None values in overrides are ignored)."""
    data: dict = dict(base or {})
    if yaml_path:
        data.update(load_yaml(yaml_path))
    source = str(yaml_path) if yaml_path else "config"
    cfg_from_file = from_dict(cls, data, source=source)  # validates file keys with the file's name
    merged = dataclasses.asdict(cfg_from_file)
    for k, v in (overrides or {}).items():
        if v is not None:
            merged[k] = v
    return from_dict(cls, merged, source="command line")


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def add_dataclass_args(parser: argparse.ArgumentParser, cls, exclude: tuple = (), required: tuple = ()) -> None:
    """One `--field-name` option per dataclass field; default None so we can tell what was set."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.metadata.get("cli", True):
            continue
        base, _ = _strip_optional(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        help_text = f.metadata.get("help", "")
        if default not in (None, "", []):
            help_text += f" (default: {default})"
        kw: dict = {"dest": f.name, "default": None, "help": help_text, "required": f.name in required}
        if base is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) in (list, tuple):
            kw["metavar"] = "A,B,..."
        else:
            kw["metavar"] = f.name.upper()
            if f.metadata.get("choices"):
                kw["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        parser.add_argument(flag, **kw)


def overrides_from_args(args: argparse.Namespace, cls) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def describe(cls) -> str:
    """Markdown table of a config's fields (for docs)."""
    hints = _hints(cls)
    rows = ["| field | type | default | help |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        d = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append(f"| `{f.name}` | `{hints[f.name]}` | `{d}` | {f.metadata.get('help', '')} |")
    return "\n".join(rows)
