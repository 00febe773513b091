"""User-facing errors: the CLI and the scripts print these as one line and exit 2 (no traceback)."""

import sys
from pathlib import Path
from typing import Callable


class SymtuneError(Exception):
    """Bad input or configuration. The message names the problem and the fix."""


def script_main(main: Callable[[], object]) -> int:
    """Run a script's main(); a SymtuneError becomes `<script>: error: <message>` on stderr and exit 2."""
    try:
        main()
    except SymtuneError as e:
        print(f"{Path(sys.argv[0]).name}: error: {e}", file=sys.stderr)
        return 2
    return 0
