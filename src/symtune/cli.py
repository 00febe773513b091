"""The `symtune` command: one verb per stage of the pipeline.

    symtune --help
    symtune <verb> --help

Each verb lives in `symtune/commands/<verb>.py` and defines HELP, add_arguments(parser) and
run(args) -> int. Modules import heavy libraries (torch, transformers) inside run(), so
`--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from symtune import __version__
from symtune.errors import SymtuneError

# verb -> module name under symtune.commands (order = order in --help)
VERBS = {
    "prepare-model": "prepare_model",
    "tasks": "tasks",
    "symbols": "symbols",
    "data": "data",
    "train": "train",
    "merge": "merge",
    "eval": "eval",
    "export": "export",
    "push": "push",
    "run": "run",
    "report": "report",
    "hardware": "hardware",
}


def _load(verb: str):
    return importlib.import_module(f"symtune.commands.{VERBS[verb]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symtune",
        description="Symbol tuning end to end: build data, tune, evaluate the paper's way, report.",
    )
    parser.add_argument("--version", action="version", version=f"symtune {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for verb in VERBS:
        mod = _load(verb)
        p = sub.add_parser(verb, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "verb", None):
        parser.print_help()
        return 2
    from symtune.runtime import check_interrupted, install_signal_handlers, restore_signal_handlers

    previous = install_signal_handlers()
    try:
        rc = args._module.run(args)
        check_interrupted()  # the work ended after a signal whose exception was lost: still exit 130 / 143
    except SymtuneError as e:
        print(f"symtune {args.verb}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"symtune {args.verb}: interrupted; rerun the same command to resume", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    finally:
        restore_signal_handlers(previous)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
