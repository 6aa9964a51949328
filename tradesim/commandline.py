"""One-line errors for every ``tradesim`` command: the problem on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Print one line naming the problem and leave with ``exit_code`` (2: bad input or settings)."""
    click.echo(f"tradesim: error: {message}", err=True)
    sys.exit(exit_code)
