"""docker-compose.yml and .env.example keep the production rules: hardening, health, secrets, networks, queues.

No Docker engine runs here, so the compose file is parsed, its ``${VAR}`` interpolation is done by a small
implementation of the Compose rules (``${VAR}``, ``:-``/``-`` defaults, ``:?``/``?`` errors, ``$$``), and the
commands are parsed by the real tradesim and celery command lines with tests/test_compose.py's helpers. The
Redis options and health check and the beat standby check run for real against a redis-server of their own.
deploy/ (systemd, supervisor) is checked in tests/test_deploy_units.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import yaml
from celery.concurrency import get_implementation
from celery.utils.nodenames import host_format
from redbeat.schedulers import RedBeatConfig  # type: ignore[import-untyped]

from tests.integration.support import RedisServer, stop_process_group, wait_for
from tests.local_services import free_port, redis_server_binary
from tests.test_compose import (
    LOOPBACK,
    SECRET_NAME,
    celery_context,
    command_argv,
    dockerfile_instructions,
    environment,
    healthcheck_argv,
    published_host_ip,
    tradesim_command,
    tradesim_context,
)
from tradesim.celery_app import QUEUES, app
from tradesim.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
RAW: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
RAW_SERVICES: dict[str, dict[str, Any]] = RAW["services"]

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)
WHOLE_INTERPOLATION = re.compile(r"\$\{[A-Za-z_]\w*(?::?[-?][^}]*)?\}")
REQUIRED_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*):\?[^}]*\}")
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:@/]*:(?P<password>.+)@[^@]+$")
# A run of letters and digits as long as a key: a placeholder is words, a key is noise.
KEY_LIKE = re.compile(r"(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{20,}")
SECRET_VARIABLE = re.compile(f"{SECRET_NAME.pattern}|AUTH", re.IGNORECASE)


class MissingVariable(LookupError):
    """A ``${VAR:?message}`` whose variable is unset or empty: Compose stops with the message."""


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with its Compose variables replaced, as ``docker compose config`` would."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        operator, argument = match["operator"] or "", match["argument"] or ""
        value = variables.get(name)
        is_set = value is not None and (value != "" or not operator.startswith(":"))
        if operator.endswith("?") and not is_set:
            raise MissingVariable(f"required variable {name} is missing a value: {argument}")
        if operator.endswith("-") and not is_set:
            return argument
        if operator.endswith("+"):
            return argument if is_set else ""
        return value or ""

    return INTERPOLATION.sub(replace, text)


def resolve(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, dict):
        return {key: resolve(value, variables) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, variables) for value in node]
    return node


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f"{path.name}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip().strip("'\"")
    return values


ENV_EXAMPLE = read_dotenv(REPO / ".env.example")
USED_VARIABLES = sorted({m["braced"] or m["bare"] for s in strings(RAW) for m in INTERPOLATION.finditer(s)} - {None})
REQUIRED_VARIABLES = sorted({m["name"] for s in strings(RAW) for m in REQUIRED_INTERPOLATION.finditer(s)})
# .env.example with its empty secrets filled in, as an operator would.
FILLED = {
    **ENV_EXAMPLE,
    **{name: f"test-only-{name.lower().replace('_', '-')}" for name, value in ENV_EXAMPLE.items() if not value},
    "EXCHANGE_URL": "sim+http://sim:8765",
    "FLOWER_BASIC_AUTH": "ops:test-only-flower-password",
}
SERVICES: dict[str, dict[str, Any]] = resolve(RAW, FILLED)["services"]

TRADESIM_SERVICES = sorted(name for name, service in RAW_SERVICES.items() if "build" in service)
LONG_RUNNING = sorted(name for name in RAW_SERVICES if name != "migrate")
WORKERS = sorted(name for name in RAW_SERVICES if name.startswith("worker-"))
BEATS = sorted(name for name in RAW_SERVICES if name.startswith("beat-"))
PEOPLE_FACING = ("flower", "notify")
CONCURRENCY = {"worker-scanner": 2, "worker-notifications": 4, "worker-maintenance": 1}
NETWORKS = {**{name: {"backend", "egress"} for name in WORKERS}, "notify": {"backend", "frontend"}}
TASK_TIME_LIMIT = Settings.model_fields["task_time_limit"].default


def shell_commands(service: dict[str, Any]) -> list[list[str]]:
    """A health check's commands, split at ``||``."""
    commands: list[list[str]] = [[]]
    for word in healthcheck_argv(service):
        if word == "||":
            commands.append([])
        else:
            commands[-1].append(word)
    return commands


def python_snippets(service: dict[str, Any]) -> list[str]:
    return [argv[2] for argv in shell_commands(service) if argv[:2] == ["python", "-c"]]


def options(argv: list[str]) -> dict[str, str]:
    return {word: value for word, value in zip(argv, [*argv[1:], ""], strict=True) if word.startswith("--")}


def answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a Compose duration: {duration!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


def test_the_stack_has_the_services_production_needs() -> None:
    workers = {"worker-bots", "worker-scanner", "worker-notifications", "worker-maintenance"}
    expected = {"redis", "postgres", "migrate", "beat-a", "beat-b", "flower", "notify", "sim"} | workers

    assert set(RAW_SERVICES) == expected
    assert set(TRADESIM_SERVICES) == expected - {"redis", "postgres"}


@pytest.mark.parametrize("name", TRADESIM_SERVICES)
def test_tradesim_service_is_hardened(name: str) -> None:
    service = SERVICES[name]

    assert "no-new-privileges:true" in service["security_opt"]
    assert service["cap_drop"] == ["ALL"]
    assert service["read_only"] is True
    assert "/tmp" in [entry.split(":")[0] for entry in service["tmpfs"]]
    assert str(service["user"]).partition(":")[0] not in ("0", "root")
    assert not service.get("cap_add")
    assert not service.get("privileged")
    assert not service.get("volumes"), "a tradesim container keeps no state of its own"
    assert "network_mode" not in service


@pytest.mark.parametrize("name", ["redis", "postgres"])
def test_datastore_gains_no_privileges_and_publishes_nothing(name: str) -> None:
    assert "no-new-privileges:true" in SERVICES[name]["security_opt"]
    assert "ports" not in SERVICES[name]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    healthcheck = SERVICES[name].get("healthcheck") or {}

    assert not healthcheck.get("disable")
    assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")
    assert all(shell_commands(SERVICES[name]))
    assert seconds(healthcheck["timeout"]) <= seconds(healthcheck["interval"])


@pytest.mark.parametrize("name", sorted(name for name in SERVICES if "healthcheck" in SERVICES[name]))
def test_python_healthchecks_compile(name: str) -> None:
    for snippet in python_snippets(SERVICES[name]):
        compile(snippet, f"{name} healthcheck", "exec")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_restart_policy(name: str) -> None:
    # A failed migration must stop the start-up, not loop; everything else comes back after a crash or reboot.
    assert SERVICES[name]["restart"] == ("no" if name == "migrate" else "unless-stopped")


@pytest.mark.parametrize("name", sorted(name for name in SERVICES if "depends_on" in SERVICES[name]))
def test_depends_on_waits_for_health_or_completion(name: str) -> None:
    for dependency, condition in SERVICES[name]["depends_on"].items():
        expected = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
        assert condition == {"condition": expected}, dependency
        assert "profiles" not in SERVICES[dependency], f"{dependency} runs only in a profile"
        assert expected != "service_healthy" or SERVICES[dependency].get("healthcheck")


@pytest.mark.parametrize("name", [*WORKERS, *BEATS])
def test_service_waits_for_redis_and_the_migration(name: str) -> None:
    assert SERVICES[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_redis_keeps_its_data_with_aof_never_evicts_and_takes_the_password_from_env() -> None:
    arguments = options(command_argv(RAW_SERVICES["redis"]))

    assert command_argv(RAW_SERVICES["redis"])[0] == "redis-server"
    assert arguments["--appendonly"] == "yes"
    assert arguments["--maxmemory-policy"] == "noeviction"
    # Required (${VAR:?...}), so a missing password stops compose rather than starting an open Redis.
    assert arguments["--requirepass"] == "${REDIS_PASSWORD:?see .env.example}"
    assert environment(RAW_SERVICES["redis"])["REDISCLI_AUTH"] == arguments["--requirepass"]
    assert SERVICES["redis"]["volumes"] == ["redis-data:/data"]
    assert SERVICES["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert set(RAW["volumes"]) == {"redis-data", "postgres-data"}


def test_redis_healthcheck_reads_the_password_from_env_and_wants_a_pong() -> None:
    probe = healthcheck_argv(SERVICES["redis"])

    assert probe[:2] == ["redis-cli", "-h"]
    assert "ping" in probe
    assert not {"-a", "--pass", "--askpass", "-u"} & set(probe), "a password on the command line is in ps"
    assert probe[probe.index("|") :] == ["|", "grep", "-q", "PONG"], "redis-cli exits 0 on NOAUTH too"


def test_redis_runs_with_the_compose_options_and_its_healthcheck_needs_the_password(tmp_path: Path) -> None:
    password = FILLED["REDIS_PASSWORD"]
    port = free_port()
    server = [*command_argv(SERVICES["redis"]), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    probe = SERVICES["redis"]["healthcheck"]["test"][1].replace("-p 6379", f"-p {port}")
    process = subprocess.Popen([redis_server_binary(), *server[1:]], start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, password=password, socket_timeout=5)
        wait_for(lambda: answers(client), 10, "redis-server")

        def probe_exit_code(auth: str | None) -> int:
            variables = {name: value for name, value in os.environ.items() if name != "REDISCLI_AUTH"}
            variables.update({"REDISCLI_AUTH": auth} if auth else {})
            return subprocess.run(["sh", "-c", probe], env=variables, timeout=10).returncode

        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=5).ping()
        assert password not in " ".join(psutil.Process(process.pid).cmdline())
        assert probe_exit_code(password) == 0
        assert probe_exit_code("wrong-password") != 0
        assert probe_exit_code(None) != 0
    finally:
        stop_process_group(process, grace=5)


@pytest.mark.parametrize("name", sorted(RAW_SERVICES))
def test_no_secret_is_written_into_the_compose_file(name: str) -> None:
    service = RAW_SERVICES[name]
    for variable, value in environment(service).items():
        if SECRET_VARIABLE.search(variable):
            assert WHOLE_INTERPOLATION.fullmatch(value), f"{name}: {variable} is a literal, not ${{...}}"
    secret_options = ("--requirepass", "--account", "--basic-auth", "--password")
    for option, value in options(command_argv(service)).items() if "command" in service else ():
        if option in secret_options:
            assert not WHOLE_INTERPOLATION.sub("", value).strip(":"), f"{name}: {option} {value}"
    for text in strings(service):
        assert not KEY_LIKE.search(WHOLE_INTERPOLATION.sub("", text)), f"{name}: {text!r} looks like a key"


def masked(text: str) -> str:
    """``text`` with each ``${...}`` as one mark, so the colons inside defaults do not split a URL."""
    return WHOLE_INTERPOLATION.sub("\N{BLACK SQUARE}", text)


@pytest.mark.parametrize("url", sorted({s for s in strings(RAW) if URL_WITH_PASSWORD.match(masked(s))}))
def test_every_url_with_a_password_interpolates_it(url: str) -> None:
    password = URL_WITH_PASSWORD.match(masked(url))["password"]  # type: ignore[index]

    assert password == "\N{BLACK SQUARE}", f"{url}: the password is not one ${{VAR}}"


def test_the_urls_carry_the_passwords_of_the_services_they_reach() -> None:
    shared = environment(SERVICES["worker-bots"])
    postgres = environment(SERVICES["postgres"])
    urls = [shared[n] for n in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL", "BEAT_REDIS_URL")]

    assert {(u.split("@")[1].split("/")[0], u.split("@")[0].rpartition(":")[2]) for u in urls} == {
        ("redis:6379", FILLED["REDIS_PASSWORD"])
    }
    assert shared["BEAT_REDIS_URL"].rsplit("/", 1)[1] not in {u.rsplit("/", 1)[1] for u in urls[:3]}
    user, database = postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]
    assert shared["DATABASE_URL"] == f"postgresql://{user}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{database}"


@pytest.mark.parametrize("name", TRADESIM_SERVICES)
def test_service_environment_is_a_valid_tradesim_configuration(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {**(FILLED if SERVICES[name].get("env_file") == ".env" else {}), **environment(SERVICES[name])}
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)

    settings = load_settings(env_file=None)

    assert settings.celery_broker_url.endswith("@redis:6379/0")


@pytest.mark.parametrize("name", PEOPLE_FACING)
def test_people_facing_service_holds_no_exchange_keys(name: str) -> None:
    assert "env_file" not in SERVICES[name]
    assert not [variable for variable in environment(SERVICES[name]) if variable.startswith(("BINANCE_", "EXCHANGE_"))]


def test_flower_is_reachable_on_the_internal_network_only() -> None:
    flower = SERVICES["flower"]
    argv = command_argv(flower)

    assert argv == ["tradesim", "flower", "--address", "0.0.0.0", "--port", "5555"]
    assert "ports" not in flower
    assert all(RAW["networks"][network].get("internal") is True for network in flower["networks"])
    assert {"FLOWER_BASIC_AUTH", "FLOWER_COOKIE_SECRET"} <= set(REQUIRED_VARIABLES)
    assert "http://127.0.0.1:5555/healthcheck" in python_snippets(flower)[0]


def test_notify_relay_is_published_on_loopback_from_the_frontend_network() -> None:
    notify = SERVICES["notify"]
    (port,) = notify["ports"]

    assert command_argv(notify) == ["tradesim", "notify", "serve", "--host", "0.0.0.0", "--port", "8766"]
    assert port["target"] == 8766
    assert port["published"] == FILLED["NOTIFY_PORT"]
    assert RAW["networks"]["frontend"].get("internal") is not True
    assert "http://127.0.0.1:8766/healthz" in python_snippets(notify)[0]


@pytest.mark.parametrize("name", sorted(name for name in SERVICES if "ports" in SERVICES[name]))
def test_published_ports_bind_loopback_only(name: str) -> None:
    assert name == "notify", f"{name} publishes a port"
    for port in SERVICES[name]["ports"]:
        assert published_host_ip(port) in LOOPBACK, f"{name} publishes {port!r} beyond loopback"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_joins_only_the_networks_it_needs(name: str) -> None:
    assert set(SERVICES[name]["networks"]) == NETWORKS.get(name, {"backend"})


def test_backend_is_internal_and_the_workers_route_out_through_egress() -> None:
    assert RAW["networks"]["backend"] == {"internal": True}
    assert not (RAW["networks"]["egress"] or {}).get("internal")


@pytest.mark.parametrize("name", WORKERS)
def test_worker_queues_concurrency_and_pool(name: str) -> None:
    path, _, arguments = tradesim_command(command_argv(SERVICES[name]))
    parsed = celery_context("worker", arguments).params
    expected = CONCURRENCY.get(name, int(FILLED["BOTS_CONCURRENCY"]))

    assert path == ["worker"]
    assert parsed["concurrency"] == expected
    assert name.removeprefix("worker-") in parsed["queues"]
    # Only prefork enforces the task time limits.
    assert parsed["pool"] is get_implementation("prefork")
    assert name != "worker-bots" or options(command_argv(RAW_SERVICES[name]))["--concurrency"].startswith(
        "${BOTS_CONCURRENCY"
    )


def test_workers_consume_every_queue_once() -> None:
    arguments = [tradesim_command(command_argv(SERVICES[name]))[2] for name in WORKERS]
    consumed = [queue for argv in arguments for queue in celery_context("worker", argv).params["queues"]]

    assert sorted(consumed) == sorted(QUEUES)


@pytest.mark.parametrize("name", WORKERS)
def test_worker_stop_waits_out_the_hard_time_limit(name: str) -> None:
    assert seconds(SERVICES[name]["stop_grace_period"]) > TASK_TIME_LIMIT


@pytest.mark.parametrize("name", [*WORKERS, *BEATS])
def test_celery_healthcheck_pings_the_service_own_node(name: str) -> None:
    path, _, arguments = tradesim_command(command_argv(SERVICES[name]))
    node = celery_context(path[0], arguments).params["hostname"]
    probe = shell_commands(SERVICES[name])[0]

    assert probe[:4] == ["celery", "--app", "tradesim.celery_app", "inspect"]
    parsed = celery_context("inspect", probe[4:]).params
    assert parsed["command"] == "ping"
    destinations = [d.replace("$HOSTNAME", socket.gethostname()) for d in parsed["destination"]]
    assert destinations == [host_format(node)]


def test_two_beats_run_the_same_leader_or_standby_command() -> None:
    assert BEATS == ["beat-a", "beat-b"]
    assert command_argv(SERVICES["beat-a"]) == command_argv(SERVICES["beat-b"])
    parsed = celery_context("beat", tradesim_command(command_argv(SERVICES["beat-a"]))[2]).params
    assert parsed["schedule"].startswith("/tmp/")
    assert parsed["remote_control"] is True
    assert environment(SERVICES["beat-a"])["BEAT_REDIS_URL"].startswith("redis://")


def test_beat_standby_check_passes_while_some_beat_holds_the_lock(tmp_path: Path) -> None:
    (snippet,) = python_snippets(SERVICES["beat-a"])
    server = RedisServer(redis_server_binary(), free_port(), tmp_path)
    server.start()
    try:
        lock_key = RedBeatConfig(app).lock_key
        variables = {**os.environ, "BEAT_REDIS_URL": server.url(2)}

        def check() -> int:
            command = [sys.executable, "-c", snippet]
            return subprocess.run(command, env=variables, cwd=REPO, capture_output=True, timeout=60).returncode

        assert check() == 1
        server.client(2).set(lock_key, "a-leader-token", ex=30)
        assert check() == 0
        server.stop()
        assert check() != 0
    finally:
        server.stop()


@pytest.mark.parametrize("name", ["migrate", *WORKERS, *BEATS, "sim"])
def test_tradesim_command_parses_with_the_real_cli(name: str) -> None:
    context = tradesim_context(command_argv(SERVICES[name]))

    assert not context.args, f"{name}: arguments no option took: {context.args}"


def test_migrate_upgrades_the_schema_once() -> None:
    assert command_argv(SERVICES["migrate"]) == ["tradesim", "db", "upgrade"]
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_simulator_runs_only_in_its_profile_with_the_workers_account() -> None:
    sim = SERVICES["sim"]
    parsed = tradesim_context(command_argv(sim)).params

    assert [name for name in SERVICES if "profiles" in SERVICES[name]] == ["sim"]
    assert sim["profiles"] == ["sim"]
    assert parsed["accounts"] == (f"{FILLED['BINANCE_API_KEY']}:{FILLED['BINANCE_API_SECRET']}",)
    assert FILLED["EXCHANGE_URL"] == f"sim+http://sim:{parsed['port']}"
    assert f"127.0.0.1:{parsed['port']}/api/v3/ping" in python_snippets(sim)[0]


def test_tradesim_services_share_one_image_built_from_the_runtime_stage() -> None:
    stages = {arguments.split()[-1] for keyword, arguments in dockerfile_instructions() if keyword == "FROM"}

    assert len({str(SERVICES[name]["image"]) for name in TRADESIM_SERVICES}) == 1
    assert {SERVICES[name]["build"]["target"] for name in TRADESIM_SERVICES} == {"runtime"} <= stages


@pytest.mark.parametrize("variable", USED_VARIABLES)
def test_env_example_defines_every_variable_the_compose_file_uses(variable: str) -> None:
    assert variable in ENV_EXAMPLE


@pytest.mark.parametrize("variable", sorted(ENV_EXAMPLE))
def test_env_example_defines_nothing_the_compose_file_ignores(variable: str) -> None:
    assert variable in USED_VARIABLES


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_a_required_variable_left_empty_stops_compose_with_its_name(variable: str) -> None:
    assert ENV_EXAMPLE[variable] == "", "a copied .env.example would start with a guessable value"
    with pytest.raises(MissingVariable, match=variable):
        resolve(RAW, {**FILLED, variable: ""})


@pytest.mark.parametrize("variable", sorted(ENV_EXAMPLE))
def test_env_example_holds_no_secret(variable: str) -> None:
    value = ENV_EXAMPLE[variable]

    assert not SECRET_VARIABLE.search(variable) or value == ""
    assert not KEY_LIKE.search(value)


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("a${X:-b}c", {}, "abc"),
        ("${X:-b}", {"X": ""}, "b"),
        ("${X-b}", {"X": ""}, ""),
        ("${X}/$Y/$$Z", {"X": "1", "Y": "2"}, "1/2/$Z"),
        ("${X:?need X}", {"X": "v"}, "v"),
    ],
)
def test_interpolate_follows_the_compose_rules(text: str, variables: dict[str, str], expected: str) -> None:
    assert interpolate(text, variables) == expected


@pytest.mark.parametrize("variables", [{}, {"X": ""}])
def test_interpolate_refuses_a_missing_required_variable(variables: dict[str, str]) -> None:
    with pytest.raises(MissingVariable, match="X is missing a value: need X"):
        interpolate("${X:?need X}", variables)
