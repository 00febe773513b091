"""Typed dataclass configs: one declaration per setting, YAML layers, dotted command-line overrides.

    @dataclass
    class TrainConfig:
        steps: int = opt(100, "Optimizer steps.")
        threads: int = opt(0, "CPU threads.", runtime=True)   # cannot change results

    cfg = resolve_config(TrainConfig, yaml_path="x.yaml", overrides={"steps": 5})
    run = resolve(RunConfig, [("preset quick", {...}), ("exp.yaml", {...}), ("command line", {"train": {"lr": 1e-4}})])

Precedence: field defaults < each layer in order (preset < YAML file < command line).
Merging and type checking are OmegaConf's (structured configs); its multi-line errors become one line
naming the source and the dotted key. `runtime=True` marks a field that cannot change results:
`hashed(cfg)` leaves those out, and everything that decides "same results?" (stage hashes, the run
folder check, resumable evaluation and training) goes through it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import reprlib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError


def opt(default: Any, help: str, choices: list | tuple | None = None, runtime: bool = False,
        unhashed_if_none: bool = False):
    """A dataclass field with a help string, optional choices, and whether it is runtime-only.
    `unhashed_if_none`: a field added later whose None means the earlier behaviour is left out of hashed()
    while None, so run folders and caches from before it existed keep their hashes."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "runtime": runtime}
    if unhashed_if_none:
        meta["unhashed_if_none"] = True
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def nested(cls, help: str):
    """A sub-config field (e.g. RunConfig.train)."""
    return dataclasses.field(default_factory=cls, metadata={"help": help, "choices": None, "runtime": False})


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
MAX_YAML_NODES = 100_000  # a config has hundreds; YAML aliases can make a 300-byte file expand to 10^9


def short_repr(value) -> str:
    """repr() bounded in length and depth, for error messages (a value may be huge)."""
    return _REPR.repr(value)


def _strip_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _is_config(tp) -> bool:
    return dataclasses.is_dataclass(tp) and isinstance(tp, type)


def _type_name(tp) -> str:
    base, optional = _strip_optional(tp)
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        name = "a list"
    else:
        name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
            base, getattr(base, "__name__", str(base)))
    return name + (" (or null)" if optional else "")


def _field_type(cls, dotted: str):
    """Type hint of a dotted key under `cls`, or None when unknown."""
    tp = cls
    for part in dotted.split("."):
        if not _is_config(tp):
            return None
        hints = _hints(tp)
        if part not in hints:
            return None
        tp = hints[part]
    return tp


def _prepare(cls, data: dict, source: str, prefix: str = "") -> dict:
    """Reject unknown keys with the valid ones listed; split 'a,b' strings given to list fields."""
    if not isinstance(data, dict):
        raise SymtuneError(f"{source}: '{prefix[:-1]}' must be a mapping of option: value, got {short_repr(data)}")
    hints = _hints(cls)
    unknown = sorted(k for k in data if k not in hints)
    if unknown:
        where = f" under '{prefix[:-1]}'" if prefix else ""
        raise SymtuneError(f"{source}: unknown key(s) {', '.join(prefix + str(k) for k in unknown)}{where}; "
                           f"valid keys are {', '.join(sorted(hints))}")
    out = {}
    for k, v in data.items():
        tp = hints[k]
        if _is_config(tp):
            out[k] = _prepare(tp, v if v is not None else {}, source, prefix + k + ".")
            continue
        base, optional = _strip_optional(tp)
        if isinstance(v, str) and optional and v.strip().lower() in ("none", "null", "~"):
            v = None
        elif isinstance(v, str) and typing.get_origin(base) in (list, tuple):
            v = [x.strip() for x in v.split(",") if x.strip()]
        elif base is int and isinstance(v, float) and v.is_integer():
            v = int(v)
        elif base in (int, float) and isinstance(v, bool):
            raise SymtuneError(f"{source}: '{prefix}{k}' must be {_type_name(tp)}, got {short_repr(v)}")
        elif base is str and isinstance(v, (list, dict)):
            raise SymtuneError(f"{source}: '{prefix}{k}' must be {_type_name(tp)}, got {short_repr(v)}")
        out[k] = v
    return out


def _one_line(e: Exception, cls, source: str) -> SymtuneError:
    """An OmegaConf error as one line naming the source and the dotted key."""
    key = getattr(e, "full_key", None) or ""
    tp = _field_type(cls, key) if key else None
    value = getattr(e, "value", None)
    if tp is not None:
        return SymtuneError(f"{source}: '{key}' must be {_type_name(tp)}, got {short_repr(value)}")
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    return SymtuneError(f"{source}: {first}" + (f" (key '{key}')" if key else ""))


def resolve(cls, layers: list[tuple[str, dict]]):
    """Merge (source, mapping) layers over the defaults of `cls`; type-check; return a `cls` instance."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    merged = OmegaConf.structured(cls)
    for source, data in layers:
        if not data:
            continue
        try:
            merged = OmegaConf.merge(merged, _prepare(cls, data, source))
        except OmegaConfBaseException as e:
            raise _one_line(e, cls, source) from None
    try:
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:  # pragma: no cover - merge already checked every value
        raise _one_line(e, cls, "config") from None
    validate(cfg)
    return cfg


def validate(cfg, prefix: str = "") -> None:
    """Check choices and non-finite numbers on every field, recursively (types were checked on the way in)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate(value, prefix + f.name + ".")
            continue
        choices = f.metadata.get("choices")
        if choices and value is not None:
            for v in (value if isinstance(value, list) else [value]):
                if v not in choices:
                    raise SymtuneError(f"option '{prefix}{f.name}': unknown value {short_repr(v)}; choose one of "
                                       f"{', '.join(map(str, choices))}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SymtuneError(f"option '{prefix}{f.name}' must be a finite number, got {value}")


def _expanded_size(node, sizes: dict, limit: int) -> int:
    """Nodes of a composed YAML graph with every alias expanded (memoised per node, so a bomb is counted
    in the time its few nodes take); a recursive alias counts as over the limit."""
    key = id(node)
    if key in sizes:
        if sizes[key] is None:  # still being counted: the node contains itself
            return limit + 1
        return sizes[key]
    sizes[key] = None
    n = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [x for pair in node.value for x in pair]
    else:
        children = []
    for child in children:
        n += _expanded_size(child, sizes, limit)
        if n > limit:
            break
    sizes[key] = n
    return n


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing a key repeated in one mapping: PyYAML keeps the last silently, so a second
    `train:` section would drop the first whole. Keys brought in by a `<<` merge may still be overridden."""

    source = "YAML"

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                    seen.setdefault(key, line)
                except TypeError:  # an unhashable key: SafeLoader's own error names it
                    continue
                if first is not None:
                    raise SymtuneError(f"{self.source}, line {line}: key {short_repr(key)} is given twice in one "
                                       f"mapping (first on line {first}); keep one, as only the last would count")
        return super().construct_mapping(node, deep=deep)


def safe_load_bounded(text: str, source: str, limit: int = MAX_YAML_NODES):
    """yaml.safe_load, refusing a document whose aliases expand past `limit` nodes (an alias bomb) and
    duplicate keys in a mapping."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, limit) > limit:
            raise SymtuneError(f"{source} expands to more than {limit:,} values through YAML aliases "
                               "(&anchor/*alias), or an alias refers to itself; write the values out")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        raise SymtuneError(f"config file {p} is a folder; pass a YAML file")
    if not p.is_file():
        raise SymtuneError(f"config file {p} does not exist; pass an existing YAML file")
    try:
        data = safe_load_bounded(p.read_text(encoding="utf-8"), f"config file {p}")
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SymtuneError(f"config file {p} is not valid YAML ({str(e).splitlines()[0]}); fix its syntax")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SymtuneError(f"config file {p} must hold a mapping of option: value at the top level")
    return data


def from_dict(cls, data: dict, source: str = "config"):
    """Build `cls` from one mapping, rejecting unknown keys and wrong types."""
    return resolve(cls, [(source, data)])


def resolve_config(cls, yaml_path: str | Path | None = None, overrides: dict | None = None):
    """defaults < YAML < overrides (None values in overrides are ignored)."""
    layers = []
    if yaml_path:
        layers.append((str(yaml_path), load_yaml(yaml_path)))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    return resolve(cls, layers)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def hashed(cfg) -> dict:
    """The fields that can change results (runtime=True ones left out), recursively: what gets hashed."""
    out = {}
    for f in dataclasses.fields(cfg):
        if f.metadata.get("runtime"):
            continue
        value = getattr(cfg, f.name)
        if value is None and f.metadata.get("unhashed_if_none"):
            continue
        out[f.name] = hashed(value) if dataclasses.is_dataclass(value) else value
    return out


def runtime_fields(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("runtime"))


def flatten(d: dict, prefix: str = "") -> dict:
    """{'train': {'lr': 1}} -> {'train.lr': 1}"""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and all(isinstance(x, str) for x in v):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def unflatten(d: dict) -> dict:
    """{'train.lr': 1} -> {'train': {'lr': 1}}"""
    out: dict = {}
    for k, v in d.items():
        node = out
        *parents, leaf = k.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def add_dataclass_args(parser: argparse.ArgumentParser, cls, exclude: tuple = (), required: tuple = (),
                       prefix: str = "") -> None:
    """One option per field, default None so we can tell what was set.

    prefix="" gives `--field-name`; prefix="train." gives `--train.field_name` (also `--train.field-name`)."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        base, _ = _strip_optional(hints[f.name])
        dest = prefix + f.name
        flags = ["--" + f.name.replace("_", "-")] if not prefix else \
            sorted({"--" + dest, "--" + prefix + f.name.replace("_", "-")}, key=lambda s: "-" in s[2:])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        help_text = f.metadata.get("help", "").replace("%", "%%")
        if default not in (None, "", []):
            help_text += f" (default: {default})"
        kw: dict = {"dest": dest, "default": None, "help": help_text, "required": f.name in required}
        if base is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) in (list, tuple):
            kw["metavar"] = "A,B,..."
        else:
            kw["metavar"] = f.name.upper()
            if f.metadata.get("choices"):
                kw["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        parser.add_argument(*flags, **kw)


def overrides_from_args(args: argparse.Namespace, cls, prefix: str = "") -> dict:
    names = {prefix + f.name for f in dataclasses.fields(cls)}
    return {k[len(prefix):]: v for k, v in vars(args).items() if k in names and v is not None}
