"""deploy/ keeps the production rules outside compose: hardened systemd units, supervisor programs, env files.

The systemd units and the supervisor program file are read as INI files (configparser, not strict: systemd
repeats keys), their specifiers and ``${VAR}`` expanded, and the commands they run parsed by the real tradesim
and celery command lines. The compose file's own rules are in tests/test_compose_production.py.
"""

from __future__ import annotations

import configparser
import re
import shlex
import socket
from collections.abc import Mapping
from pathlib import Path

import pytest
from celery.concurrency import get_implementation

from tests.test_compose import celery_context, tradesim_command, tradesim_context
from tests.test_compose_production import KEY_LIKE, SECRET_VARIABLE, TASK_TIME_LIMIT, URL_WITH_PASSWORD, read_dotenv
from tradesim.celery_app import QUEUES
from tradesim.config import load_settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNITS = DEPLOY / "systemd"
SERVICE_UNITS = sorted(path.name for path in UNITS.glob("*.service"))
GROUP_DROP_INS = {p.parent.name[len("tradesim-worker@") : -len(".service.d")]: p for p in UNITS.glob("*@*.d/*.conf")}
GROUP_CONCURRENCY = {"scanner": 2, "notifications": 4, "maintenance": 1}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
    "User": "tradesim",
}
VENV_TRADESIM = "/opt/tradesim/venv/bin/tradesim"
SUPERVISOR = DEPLOY / "supervisor" / "tradesim.conf"


def read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def repeated(path: Path, key: str) -> list[str]:
    """Every value of a key systemd allows more than once (configparser keeps only the last)."""
    return [line.partition("=")[2] for line in path.read_text().splitlines() if line.startswith(f"{key}=")]


def unit_environment(*values: str, instance: str = "") -> dict[str, str]:
    pairs = [word.partition("=") for value in values for word in shlex.split(value.replace("%i", instance))]
    return {name: value for name, _, value in pairs}


def tradesim_argv(command: str, replacements: Mapping[str, str], variables: Mapping[str, str] = {}) -> list[str]:
    """A unit's or program's command line, specifiers and ``${VAR}`` expanded, as ``tradesim ...``."""
    for specifier, value in {**replacements, "%%": "%"}.items():
        command = command.replace(specifier, value)
    argv = [re.sub(r"\$\{(\w+)\}", lambda match: variables[match[1]], word) for word in shlex.split(command)]
    assert argv[0] == VENV_TRADESIM, argv
    return ["tradesim", *argv[1:]]


def worker_unit_argv(group: str) -> list[str]:
    template = read_ini(UNITS / "tradesim-worker@.service")["Service"]
    drop_in = read_ini(GROUP_DROP_INS[group])["Service"]
    variables = unit_environment(template["Environment"], drop_in["Environment"], instance=group)
    return tradesim_argv(template["ExecStart"], {"%i": group, "%H": socket.gethostname()}, variables)


@pytest.mark.parametrize("unit", [*SERVICE_UNITS, "tradesim.target"])
def test_unit_file_parses_and_describes_itself(unit: str) -> None:
    parsed = read_ini(UNITS / unit)

    assert parsed["Unit"]["Description"]
    assert unit.endswith(".target") or parsed["Service"]["ExecStart"].startswith(f"{VENV_TRADESIM} ")


@pytest.mark.parametrize("unit", SERVICE_UNITS)
def test_unit_is_hardened_and_reads_its_settings_from_etc(unit: str) -> None:
    service = read_ini(UNITS / unit)["Service"]
    files = repeated(UNITS / unit, "EnvironmentFile")

    assert {key: service.get(key) for key in HARDENING} == HARDENING
    assert files
    assert all(path.startswith("/etc/tradesim/") for path in files)
    # Only the workers trade: nothing else reads the exchange keys.
    assert ("/etc/tradesim/exchange.env" in files) == unit.startswith("tradesim-worker@")
    # The migration runs once per start and stays "active" for the units that require it; the rest come back.
    one_shot = unit == "tradesim-migrate.service"
    assert (service.get("Type"), service.get("RemainAfterExit")) == (("oneshot", "yes") if one_shot else ("exec", None))
    assert service.get("Restart") == (None if one_shot else "always")


@pytest.mark.parametrize("group", sorted(GROUP_DROP_INS))
def test_worker_unit_serves_its_group_at_its_concurrency_on_prefork(group: str) -> None:
    path, _, arguments = tradesim_command(worker_unit_argv(group))
    parsed = celery_context("worker", arguments).params

    assert path == ["worker"]
    assert group in parsed["queues"]
    assert parsed["concurrency"] == GROUP_CONCURRENCY.get(group, parsed["concurrency"]) > 0
    assert parsed["pool"] is get_implementation("prefork")


def test_worker_units_consume_every_queue_once_and_stop_after_the_hard_limit() -> None:
    arguments = [worker_unit_argv(group)[2:] for group in GROUP_DROP_INS]
    consumed = [queue for argv in arguments for queue in celery_context("worker", argv).params["queues"]]
    service = read_ini(UNITS / "tradesim-worker@.service")["Service"]

    assert sorted(consumed) == sorted(QUEUES)
    assert int(service["TimeoutStopSec"]) > TASK_TIME_LIMIT
    assert service["KillMode"] == "mixed", "SIGTERM the worker alone, so running tasks finish"


@pytest.mark.parametrize("unit", ["tradesim-worker@.service", "tradesim-beat@.service", "tradesim-migrate.service"])
def test_unit_command_parses_with_the_real_cli(unit: str) -> None:
    command = read_ini(UNITS / unit)["Service"]["ExecStart"]
    variables = {"WORKER_QUEUES": "bots", "WORKER_CONCURRENCY": "1"}
    context = tradesim_context(tradesim_argv(command, {"%i": "a", "%H": socket.gethostname()}, variables))

    assert not context.args
    assert unit != "tradesim-beat@.service" or context.params["schedule"].startswith("/var/lib/tradesim/beat-a/")


@pytest.mark.parametrize("unit", ["tradesim-worker@.service", "tradesim-beat@.service"])
def test_celery_unit_waits_for_the_migration(unit: str) -> None:
    assert "tradesim-migrate.service" in read_ini(UNITS / unit)["Unit"]["Requires"].split()


def test_target_wants_every_worker_group_two_beats_flower_and_the_relay() -> None:
    wanted = read_ini(UNITS / "tradesim.target")["Unit"]["Wants"].split()
    expected = {f"tradesim-worker@{group}.service" for group in GROUP_DROP_INS}
    expected |= {"tradesim-beat@a.service", "tradesim-beat@b.service", "tradesim-flower.service"}

    assert set(wanted) == expected | {"tradesim-notify.service"}
    assert set(GROUP_DROP_INS) == {"bots", "scanner", "notifications", "maintenance"}
    assert all(re.sub(r"@[^.]+", "@", unit) in SERVICE_UNITS for unit in wanted)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("tradesim-flower.service", ["tradesim", "flower", "--address", "127.0.0.1", "--port", "5555"]),
        ("tradesim-notify.service", ["tradesim", "notify", "serve", "--host", "127.0.0.1", "--port", "8766"]),
    ],
)
def test_web_unit_listens_on_loopback_for_a_reverse_proxy(unit: str, expected: list[str]) -> None:
    assert tradesim_argv(read_ini(UNITS / unit)["Service"]["ExecStart"], {}) == expected


SUPERVISOR_PROGRAMS = sorted(section for section in read_ini(SUPERVISOR).sections() if section.startswith("program:"))


def program_argv(section: str) -> list[str]:
    name = section.removeprefix("program:")
    replacements = {"%(program_name)s": name, "%(host_node_name)s": socket.gethostname()}
    return tradesim_argv(read_ini(SUPERVISOR)[section]["command"], replacements)


@pytest.mark.parametrize("section", SUPERVISOR_PROGRAMS)
def test_supervisor_program_runs_as_tradesim_and_comes_back(section: str) -> None:
    program = read_ini(SUPERVISOR)[section]

    assert program["user"] == "tradesim"
    assert (program["autostart"], program["autorestart"], program["stopsignal"]) == ("true", "true", "TERM")
    assert program_argv(section)[0] == "tradesim"


@pytest.mark.parametrize("section", [s for s in SUPERVISOR_PROGRAMS if "-worker-" in s or "-beat-" in s])
def test_supervisor_celery_program_parses_with_the_real_cli(section: str) -> None:
    path, _, arguments = tradesim_command(program_argv(section))
    parsed = celery_context(path[0], arguments).params
    group = section.rpartition("-")[2]

    assert path[0] == ("worker" if "-worker-" in section else "beat")
    assert parsed["hostname"].startswith((f"{group}@", f"celerybeat-{group}@"))
    if path[0] == "worker":
        program = read_ini(SUPERVISOR)[section]
        assert parsed["concurrency"] == GROUP_CONCURRENCY.get(group, parsed["concurrency"]) > 0
        assert parsed["pool"] is get_implementation("prefork")
        assert int(program["stopwaitsecs"]) > TASK_TIME_LIMIT
        assert (program["stopasgroup"], program["killasgroup"]) == ("false", "true")


def test_supervisor_runs_every_queue_once_two_beats_and_one_group() -> None:
    workers = [s for s in SUPERVISOR_PROGRAMS if "-worker-" in s]
    consumed = [q for s in workers for q in celery_context("worker", program_argv(s)[2:]).params["queues"]]
    group = read_ini(SUPERVISOR)["group:tradesim"]["programs"].split(",")

    assert sorted(consumed) == sorted(QUEUES)
    assert [s for s in SUPERVISOR_PROGRAMS if "-beat-" in s] == ["program:tradesim-beat-a", "program:tradesim-beat-b"]
    assert sorted(f"program:{name}" for name in group) == SUPERVISOR_PROGRAMS
    assert program_argv("program:tradesim-flower")[2:4] == ["--address", "127.0.0.1"]
    assert program_argv("program:tradesim-notify")[3:5] == ["--host", "127.0.0.1"]


@pytest.mark.parametrize("path", sorted((DEPLOY / "env").glob("*.env.example")), ids=lambda path: path.name)
def test_deploy_env_example_holds_placeholders_only(path: Path) -> None:
    for variable, value in read_dotenv(path).items():
        assert not KEY_LIKE.search(value), f"{variable} looks like a real key"
        assert not SECRET_VARIABLE.search(variable) or "change-me" in value, variable
        password = URL_WITH_PASSWORD.match(value)
        assert password is None or password["password"] == "change-me", variable


def test_deploy_env_examples_together_are_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (DEPLOY / "env").glob("*.env.example"):
        for variable, value in read_dotenv(path).items():
            monkeypatch.setenv(variable, value)

    settings = load_settings(env_file=None)

    assert settings.beat_redis_url != settings.redis_url != settings.celery_broker_url
    assert settings.flower_basic_auth is not None
    assert settings.binance_api_secret is not None


@pytest.mark.parametrize("path", sorted(p.relative_to(DEPLOY) for p in DEPLOY.rglob("*") if p.is_file()), ids=str)
def test_deploy_file_is_explained_in_the_docs(path: Path) -> None:
    docs = " ".join(doc.read_text() for doc in (REPO / "docs").glob("deploy-*.md"))

    assert path.name in docs or path.parent.name in docs
