"""User-facing errors: the CLI prints these as one line and exits 2 (no traceback)."""


class SymtuneError(Exception):
    """Bad input or configuration. The message names the problem and the fix."""
