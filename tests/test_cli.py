"""The tradesim command: help, version, database commands, Celery pass-through, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradesim import __version__
from tradesim.cli import cli

COMMANDS = (
    "version", "config", "db", "worker", "beat", "sim", "backtest", "demo", "flower", "schedule", "notify",
    "credentials",
)  # fmt: skip


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])

    assert result.exit_code == 0
    for command in COMMANDS:
        assert f"  {command} " in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["version"])

    assert (result.exit_code, result.output.strip()) == (0, __version__)


def test_db_upgrade_then_current_then_check_on_the_embedded_default(runner: CliRunner, tmp_path: Path) -> None:
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    current = runner.invoke(cli, ["db", "current"])
    checked = runner.invoke(cli, ["db", "check"])

    assert upgraded.exit_code == 0, upgraded.output
    assert (tmp_path / "tradesim.db").exists()
    assert "empty -> 0005" in upgraded.output
    assert "current: 0005  head: 0005" in current.output
    assert (checked.exit_code, checked.output.strip()) == (0, "schema matches the models")


def test_db_check_fails_on_a_database_never_migrated(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["db", "check"])

    assert result.exit_code == 1
    assert "schema differs from the models" in result.output


def test_config_shows_settings_without_secrets(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_SECRET", "very-secret-value")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:broker-pass@127.0.0.1:6379/0")

    result = runner.invoke(cli, ["config"], terminal_width=200)

    assert result.exit_code == 0
    assert "BINANCE_API_SECRET" in result.output
    assert "very-secret-value" not in result.output
    assert "broker-pass" not in result.output


@pytest.mark.parametrize(
    ("arguments", "variable", "value", "expected"),
    [
        (["db", "upgrade"], "DATABASE_URL", "nonsense", "DATABASE_URL: expected an SQLAlchemy URL"),
        (["config"], "TOP_PAIRS", "many", "TOP_PAIRS: input should be a valid integer"),
        (["worker"], "TASK_TIME_LIMIT", "-3", "TASK_TIME_LIMIT: input should be greater than 0"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, arguments: list[str], variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = runner.invoke(cli, arguments)

    assert result.exit_code == 2
    assert result.output.startswith("tradesim: error: invalid configuration: ")
    assert expected in result.output
    assert result.output.count("\n") == 1


def test_an_unreachable_database_is_one_line_without_its_password(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://trader:hunter2@127.0.0.1:1/prod")

    result = runner.invoke(cli, ["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output.startswith("tradesim: error: cannot reach the database at ")
    assert "hunter2" not in result.output
    assert result.output.count("\n") == 1


def test_worker_and_beat_pass_options_through_to_celery(runner: CliRunner) -> None:
    worker = runner.invoke(cli, ["worker", "--help"])
    beat = runner.invoke(cli, ["beat", "--help"])

    assert worker.exit_code == 0
    assert "--concurrency" in worker.output
    assert beat.exit_code == 0
    assert "--schedule" in beat.output


def test_the_installed_script_prints_no_traceback_for_a_bad_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradesim.cli", "db", "upgrade"],
        env={"DATABASE_URL": "sqlite+nodriver:///x.db", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--account", "nocolon"], "--account: expected KEY:SECRET"),
        (["--accounts-file", "missing.json"], "missing.json: cannot read the accounts file"),
        (["--clock", "fixed"], "--clock fixed needs --start"),
        (["--clock", "fixed", "--start", "yesterday"], "--start: expected an ISO-8601 time"),
        (["--clock", "fixed", "--start", "2026-01-05T00:00:00"], "--start: expected a time with a zone"),
        (["--rate-limit-scale", "0"], "--rate-limit-scale: expected a number above 0, got 0"),
    ],
)
def test_sim_serve_refuses_bad_options_in_one_line(runner: CliRunner, arguments: list[str], expected: str) -> None:
    result = runner.invoke(cli, ["sim", "serve", "--port", "0", *arguments])

    assert result.exit_code == 2
    assert expected in result.output
    assert result.output.count("\n") == 1


def test_sim_serve_help_names_its_options(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["sim", "serve", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--account", "--accounts-file", "--faults", "--clock", "--rate-limit"):
        assert option in result.output
