"""docker-compose.test.yml and the Dockerfile keep the harness rules: hardening, health, queues, real CLI options.

No Docker engine runs on the development machines and the `docker compose` plugin is not installed, so
`docker compose config` (which would check the file against the Compose schema) cannot run here. These
tests parse the files instead, with YAML anchors and merge keys resolved by ``yaml.safe_load``, and check
the project's own rules. The commands the services run, and their health checks, are parsed by the real
tradesim and celery command lines, so an option renamed in either fails here rather than in a container.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from celery.concurrency import get_implementation
from celery.utils.nodenames import host_format
from click.testing import CliRunner

from tradesim.celery_app import QUEUES, app
from tradesim.cli import cli

REPO = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.test.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SHARED_ENVIRONMENT: dict[str, str] = COMPOSE["x-tradesim-environment"]

TRADESIM_SERVICES = sorted(
    name
    for name, service in SERVICES.items()
    if "build" in service or str(service.get("image", "")).partition(":")[0] == "tradesim"
)
ONE_SHOT = ("migrate", "tests")
LONG_RUNNING = sorted(name for name in SERVICES if name not in ONE_SHOT)
WORKERS = sorted(name for name in SERVICES if name.startswith("worker-"))
TRADESIM_COMMANDS = sorted(name for name in TRADESIM_SERVICES if name != "tests")
# Health checks that ping a Celery node: the service's own node must be the one pinged.
CELERY_NODES = (*WORKERS, "beat")

LOOPBACK = ("127.0.0.1", "::1", "localhost")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN", re.IGNORECASE)


def command_argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    variables = service.get("environment") or {}
    if isinstance(variables, list):
        return dict(item.partition("=")[::2] for item in variables)
    return {name: str(value) for name, value in variables.items()}


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    assert test[0] == "CMD", f"a health check test is CMD or CMD-SHELL, got {test!r}"
    return [str(part) for part in test[1:]]


def tradesim_command(argv: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """The subcommand path of a ``tradesim ...`` command line, the click command it names, and its arguments."""
    assert argv[0] == "tradesim", argv
    command: click.Command = cli
    path: list[str] = []
    rest = argv[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    return path, command, rest


def celery_context(subcommand: str, arguments: list[str]) -> click.Context:
    """``celery <subcommand> <arguments>`` parsed by Celery's own command line, for the tradesim app."""
    options = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    return celery_cli.commands[subcommand].make_context(subcommand, list(arguments), obj=options)


def tradesim_context(argv: list[str]) -> click.Context:
    """A ``tradesim ...`` command line parsed without running it; worker and beat options go to Celery's parser."""
    path, command, arguments = tradesim_command(argv)
    if command.context_settings.get("ignore_unknown_options"):
        return celery_context(path[-1], arguments)
    return command.make_context(path[-1], arguments)


def published_host_ip(port: str | dict[str, Any]) -> str:
    """The host address a ``ports`` entry binds; empty means every interface."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    spec = str(port).split("/")[0]
    return spec.rsplit(":", 2)[0].strip("[]") if spec.count(":") >= 2 else ""


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The final stage's instructions, preceded by those of the stages it is built ``FROM``."""
    instructions = dockerfile_instructions()
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    stages = [instructions[start:end] for start, end in zip(starts, [*starts[1:], len(instructions)], strict=True)]
    by_alias = {}
    for stage in stages:
        words = stage[0][1].split()
        if len(words) == 3 and words[1].upper() == "AS":
            by_alias[words[2]] = stage
    chain = stages[-1]
    while (parent := chain[0][1].split()[0]) in by_alias:
        chain = by_alias.pop(parent) + chain
    return chain


def test_the_tradesim_services_are_the_ones_the_harness_needs() -> None:
    expected = {"sim", "migrate", "beat", "tests", "worker-bots", "worker-scanner"}
    expected |= {"worker-notifications", "worker-maintenance"}

    assert set(TRADESIM_SERVICES) == expected
    assert {"redis", "postgres"} <= set(SERVICES)


@pytest.mark.parametrize("name", TRADESIM_SERVICES)
def test_tradesim_service_is_hardened(name: str) -> None:
    service = SERVICES[name]
    tmpfs = service.get("tmpfs", [])

    assert {"no-new-privileges", "no-new-privileges:true"} & set(service.get("security_opt", []))
    assert "ALL" in service.get("cap_drop", [])
    assert service.get("read_only") is True
    assert "/tmp" in [entry.split(":")[0] for entry in ([tmpfs] if isinstance(tmpfs, str) else tmpfs)]
    assert not service.get("cap_add")
    assert not service.get("privileged")


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    healthcheck = SERVICES[name].get("healthcheck") or {}

    assert not healthcheck.get("disable")
    assert healthcheck.get("test", [None])[0] in ("CMD", "CMD-SHELL")
    assert healthcheck_argv(SERVICES[name])


PYTHON_HEALTHCHECKS = sorted(
    name
    for name, service in SERVICES.items()
    if service.get("healthcheck") and healthcheck_argv(service)[:2] == ["python", "-c"]
)


@pytest.mark.parametrize("name", PYTHON_HEALTHCHECKS)
def test_python_healthcheck_compiles(name: str) -> None:
    compile(healthcheck_argv(SERVICES[name])[2], f"{name} healthcheck", "exec")


@pytest.mark.parametrize("name", sorted(name for name, service in SERVICES.items() if "depends_on" in service))
def test_depends_on_uses_the_long_form_with_a_condition(name: str) -> None:
    depends_on = SERVICES[name]["depends_on"]

    assert isinstance(depends_on, dict), "the short list form starts services before they are ready"
    for dependency, options in depends_on.items():
        assert dependency in SERVICES, f"{name} depends on {dependency!r}, which is no service"
        assert dependency != name
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert options.get("condition") == expected, dependency
        if expected == "service_healthy":
            assert SERVICES[dependency].get("healthcheck"), f"{dependency} can never become healthy"


@pytest.mark.parametrize("name", [*WORKERS, "beat", "tests"])
def test_service_waits_for_the_migration(name: str) -> None:
    assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("name", WORKERS)
def test_worker_consumes_the_queues_its_name_says_on_prefork(name: str) -> None:
    path, _, arguments = tradesim_command(command_argv(SERVICES[name]))
    options = celery_context("worker", arguments).params

    assert path == ["worker"]
    assert name.removeprefix("worker-") in options["queues"]
    assert set(options["queues"]) <= set(QUEUES), "a queue no task is routed to"
    # Only prefork enforces the task time limits.
    assert options["pool"] is get_implementation("prefork")


def test_workers_together_consume_every_queue() -> None:
    consumed: set[str] = set()
    for name in WORKERS:
        consumed.update(celery_context("worker", tradesim_command(command_argv(SERVICES[name]))[2]).params["queues"])

    assert QUEUES == ("bots", "scanner", "notifications", "cache", "maintenance")
    assert consumed == set(QUEUES)


@pytest.mark.parametrize("name", CELERY_NODES)
def test_celery_healthcheck_pings_the_service_own_node(name: str) -> None:
    path, _, arguments = tradesim_command(command_argv(SERVICES[name]))
    node = celery_context(path[0], arguments).params["hostname"]
    probe = healthcheck_argv(SERVICES[name])

    assert probe[:4] == ["celery", "--app", "tradesim.celery_app", "inspect"]
    options = celery_context("inspect", probe[4:]).params
    assert options["command"] == "ping"
    # Compose turns $$ into $; the container's shell then expands HOSTNAME, which is what %h stands for.
    destinations = [d.replace("$$HOSTNAME", socket.gethostname()) for d in options["destination"]]
    assert destinations == [host_format(node)]


def test_beat_keeps_its_schedule_in_tmp_and_answers_pings() -> None:
    path, _, arguments = tradesim_command(command_argv(SERVICES["beat"]))
    options = celery_context("beat", arguments).params

    assert path == ["beat"]
    assert options["schedule"].startswith("/tmp/")
    assert options["remote_control"] is True


def test_tests_service_runs_the_integration_suite_against_the_compose_services() -> None:
    service = SERVICES["tests"]
    argv = command_argv(service)
    variables = environment(service)

    assert argv[0] == "pytest" or argv[:3] == ["python", "-m", "pytest"]
    assert "tests/integration" in argv
    assert variables["TRADESIM_REQUIRE_SERVICES"] == "1"
    assert variables["TRADESIM_INTEGRATION_TARGET"] == "compose"
    assert set(service["depends_on"]) == set(SERVICES) - {"tests"}
    # test_deployment.py reaches the stack where its own services do.
    assert variables["TRADESIM_DEPLOYED_BROKER_URL"] == variables["CELERY_BROKER_URL"]
    assert variables["TRADESIM_DEPLOYED_REDIS_URL"] == variables["REDIS_URL"]
    assert variables["TRADESIM_DEPLOYED_DATABASE_URL"] == variables["DATABASE_URL"]
    assert variables["TRADESIM_DEPLOYED_SIM_URL"] == variables["EXCHANGE_URL"].removeprefix("sim+")
    assert variables["TRADESIM_DEPLOYED_API_KEY"] == variables["BINANCE_API_KEY"]
    assert variables["TRADESIM_DEPLOYED_API_SECRET"] == variables["BINANCE_API_SECRET"]


def test_tests_service_builds_the_stage_that_carries_redis_server() -> None:
    target = SERVICES["tests"]["build"]["target"]
    instructions = dockerfile_instructions()
    starts = [index for index, (keyword, arguments) in enumerate(instructions) if keyword == "FROM"]
    (start,) = [index for index in starts if instructions[index][1].split()[-1] == target]
    end = min([index for index in starts if index > start], default=len(instructions))
    runs = " ".join(arguments for keyword, arguments in instructions[start:end] if keyword == "RUN")

    assert "install" in runs
    assert "redis-server" in runs


@pytest.mark.parametrize("name", sorted(name for name, service in SERVICES.items() if service.get("ports")))
def test_published_ports_bind_loopback_only(name: str) -> None:
    for port in SERVICES[name]["ports"]:
        assert published_host_ip(port) in LOOPBACK, f"{name} publishes {port!r} on every interface"


@pytest.mark.parametrize(
    ("port", "host_ip"),
    [
        ("127.0.0.1:16379:6379", "127.0.0.1"),
        ("[::1]:15432:5432/tcp", "::1"),
        ("16379:6379", ""),
        ("6379", ""),
        ({"target": 6379, "published": "16379", "host_ip": "0.0.0.0"}, "0.0.0.0"),
    ],
)
def test_published_host_ip_reads_both_port_syntaxes(port: str | dict[str, Any], host_ip: str) -> None:
    assert published_host_ip(port) == host_ip


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_secrets_in_the_compose_file_are_marked_test_only(name: str) -> None:
    for variable, value in environment(SERVICES[name]).items():
        password = urlsplit(value).password if "://" in value else None
        if SECRET_NAME.search(variable) or password:
            assert "test-only" in (password or value), f"{name}: {variable} is not marked as a test-only value"


@pytest.mark.parametrize("name", TRADESIM_COMMANDS)
def test_tradesim_command_exists_and_its_help_lists_every_option_used(name: str) -> None:
    path, command, arguments = tradesim_command(command_argv(SERVICES[name]))

    result = CliRunner().invoke(cli, [*path, "--help"])

    assert path
    assert not isinstance(command, click.Group), f"{name} runs a command group, not a command"
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    for option in (argument for argument in arguments if argument.startswith("--")):
        assert option in result.output, f"{name}: {option} is not an option of tradesim {' '.join(path)}"


@pytest.mark.parametrize("name", TRADESIM_COMMANDS)
def test_tradesim_command_arguments_parse(name: str) -> None:
    context = tradesim_context(command_argv(SERVICES[name]))

    assert not context.args, f"{name}: arguments no option took: {context.args}"


def test_simulator_serves_the_port_and_account_the_other_services_use() -> None:
    path, command, arguments = tradesim_command(command_argv(SERVICES["sim"]))
    options = command.make_context("serve", arguments).params

    assert path == ["sim", "serve"]
    assert options["host"] == "0.0.0.0"
    assert SHARED_ENVIRONMENT["EXCHANGE_URL"] == f"sim+http://sim:{options['port']}"
    key, secret = SHARED_ENVIRONMENT["BINANCE_API_KEY"], SHARED_ENVIRONMENT["BINANCE_API_SECRET"]
    assert f"{key}:{secret}" in options["accounts"]
    assert f"127.0.0.1:{options['port']}/api/v3/ping" in " ".join(healthcheck_argv(SERVICES["sim"]))


@pytest.mark.parametrize(
    ("command_line", "error"),
    [
        (["tradesim", "sim", "serve", "--hots", "0.0.0.0"], click.NoSuchOption),
        (["tradesim", "sim", "serve", "--port", "http"], click.BadParameter),
        (["tradesim", "worker", "--queue-names", "bots"], click.NoSuchOption),
        (["tradesim", "worker", "--pool", "forking"], click.BadParameter),
    ],
)
def test_a_wrong_option_fails_the_parse(command_line: list[str], error: type[click.ClickException]) -> None:
    with pytest.raises(error):
        tradesim_context(command_line)


def test_dockerfile_runs_as_a_fixed_non_root_user() -> None:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]

    assert users, "the final stage sets no USER: the container would run as root"
    user = users[-1].partition(":")[0]
    assert user.isdigit(), f"USER {users[-1]} names no fixed uid"
    assert user != "0", "USER 0 is root"


def test_dockerfile_copies_no_env_file_and_bakes_no_secret() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("COPY", "ADD"):
            parts = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
            sources = [part for part in parts if not part.startswith("--")][:-1]
            assert not [source for source in sources if Path(source).name.startswith(".env")], arguments
        if keyword in ("ENV", "ARG"):
            names = [part.partition("=")[0] for part in shlex.split(arguments)]
            assert not [name for name in names if SECRET_NAME.search(name)], f"{keyword} {arguments}"


def test_dockerignore_keeps_env_files_out_of_the_build_context() -> None:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]

    assert "**/.env" in patterns
    assert not [pattern for pattern in patterns if pattern.startswith("!") and ".env" in pattern]


def test_dockerfile_writes_no_bytecode_and_shows_help_by_default() -> None:
    stage = final_stage()
    variables = [part for keyword, arguments in stage if keyword == "ENV" for part in shlex.split(arguments)]
    commands = [arguments for keyword, arguments in stage if keyword == "CMD"]

    assert "PYTHONDONTWRITEBYTECODE=1" in variables
    assert commands
    assert json.loads(commands[-1]) == ["tradesim", "--help"]
