"""Classification tasks: one schema (base.Task), three sources (bundled files, Hub, user files)."""

from symtune.tasks.base import Example, Task  # noqa: F401
