"""The shared one-line error decorator: which errors exit 2, which exit 1, and a library's error explained."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from tradesim.commandline import one_line_errors
from tradesim.errors import ConfigError, RejectedError, TemporaryError


class BadInput(ValueError):
    """Stands for a command's own input error."""


class LibraryError(Exception):
    """Stands for a library's error (Redis, SQLAlchemy) whose text needs explaining."""


class LibrarySubError(LibraryError):
    pass


def raising(error: BaseException) -> click.Command:
    @click.command()
    @one_line_errors((BadInput,), {LibraryError: lambda exc: f"the library said {exc} (is it running?)"})
    def command() -> None:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "exit_code", "line"),
    [
        (BadInput("BOT_ID: expected a number"), 2, "BOT_ID: expected a number"),
        (ConfigError("DATABASE_URL: expected a URL"), 2, "DATABASE_URL: expected a URL"),
        (RejectedError("bot 3 is not active"), 1, "bot 3 is not active"),
        (TemporaryError("try again"), 1, "try again"),
        (LibraryError("no"), 1, "the library said no (is it running?)"),
        (LibrarySubError("still no"), 1, "the library said still no (is it running?)"),
    ],
)
def test_each_error_is_one_line_on_stderr_with_its_exit_code(error: Exception, exit_code: int, line: str) -> None:
    result = CliRunner().invoke(raising(error))

    assert result.exit_code == exit_code
    assert result.stderr == f"tradesim: error: {line}\n"
    assert result.stdout == ""


def test_an_error_nobody_expected_keeps_its_traceback() -> None:
    result = CliRunner().invoke(raising(KeyError("a bug")))

    assert isinstance(result.exception, KeyError)
    assert result.exit_code == 1


@pytest.mark.parametrize(("error", "exit_code"), [(ConfigError("x"), 2), (RejectedError("y"), 1)])
def test_without_arguments_only_tradesim_errors_become_lines(error: Exception, exit_code: int) -> None:
    def command_raising(raised: Exception) -> click.Command:
        @click.command()
        @one_line_errors()
        def command() -> None:
            raise raised

        return command

    assert CliRunner().invoke(command_raising(error)).exit_code == exit_code
    assert isinstance(CliRunner().invoke(command_raising(BadInput("not mine"))).exception, BadInput)
