"""One-line errors for every ``tradesim`` command: the problem on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from tradesim.errors import ConfigError, TradesimError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Print one line naming the problem and leave with ``exit_code`` (2: bad input or settings)."""
    click.echo(f"tradesim: error: {message}", err=True)
    sys.exit(exit_code)


def one_line_errors(
    bad_input: tuple[type[Exception], ...] = (),
    explained: Mapping[type[Exception], Callable[[Exception], str]] | None = None,
) -> Callable[[F], F]:
    """A decorator for a command: each error it raises becomes one line on stderr (``fail``).

    ``bad_input`` and ``ConfigError`` exit 2; tradesim's other errors exit 1 with their own message; an
    exception of an ``explained`` type (a library's: Redis, SQLAlchemy) exits 1 with the line its function
    makes of it, which must hold no secret. Anything else is a bug and keeps its traceback.
    """
    refused: tuple[type[Exception], ...] = (*bad_input, ConfigError)
    explainers = dict(explained or {})
    foreign = tuple(explainers)

    def decorate(command: F) -> F:
        @wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except refused as exc:
                fail(str(exc), exit_code=2)
            except TradesimError as exc:
                fail(str(exc), exit_code=1)
            except foreign as exc:
                explain = next(explainers[kind] for kind in foreign if isinstance(exc, kind))
                fail(explain(exc), exit_code=1)

        return wrapper  # type: ignore[return-value]

    return decorate
