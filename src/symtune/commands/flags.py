"""Each verb's command-line flags, generated from the stage's config dataclass (one flag per field).

    add_dataclass_args(parser, TrainConfig)                    # --steps, --lr, ...
    add_dataclass_args(parser, TrainConfig, prefix="train.")   # --train.steps (also --train.warmup-steps)
    overrides = overrides_from_args(args, TrainConfig)         # only what the command line set
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from symtune.config import _hints, _strip_optional

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
