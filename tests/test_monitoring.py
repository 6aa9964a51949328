"""``tradesim flower``: the auth and cookie-secret rules, secrets kept off argv, one-line errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from tradesim import monitoring
from tradesim.monitoring import FlowerLaunch, FlowerSetupError, flower, is_loopback, plan_flower

PASSWORD = "pw-Zq81xV"
CREDENTIALS = f"alice:{PASSWORD},bob:other-{PASSWORD}"
COOKIE_SECRET = "c" * 20 + "cookie-secret-Hk29" + "c" * 20
OAUTH_ENV = {
    "FLOWER_OAUTH2_KEY": "client-id",
    "FLOWER_OAUTH2_SECRET": "oauth-secret-Lp02",
    "FLOWER_OAUTH2_REDIRECT_URI": "https://flower.internal/login",
}


def plan(
    address: str = "127.0.0.1",
    basic_auth: str | None = None,
    cookie_secret: str | None = None,
    auth: str | None = None,
    flower_args: tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
) -> FlowerLaunch:
    return plan_flower(
        address,
        5555,
        SecretStr(basic_auth) if basic_auth is not None else None,
        SecretStr(cookie_secret) if cookie_secret is not None else None,
        auth,
        flower_args,
        environ or {},
    )


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("10.1.2.3", False),
        ("flower.internal", False),
    ],
)
def test_only_loopback_addresses_count_as_local(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_loopback_without_auth_or_secret_starts_with_a_fresh_random_cookie_secret() -> None:
    first, second = plan(), plan()

    assert first.argv == ("flower", "--address=127.0.0.1", "--port=5555", "--debug=false", "--logging=info")
    assert len(first.env["FLOWER_COOKIE_SECRET"]) >= monitoring.MIN_COOKIE_SECRET_LENGTH
    assert first.env["FLOWER_COOKIE_SECRET"] != second.env["FLOWER_COOKIE_SECRET"]
    assert set(first.unset) == {"FLOWER_BASIC_AUTH", "FLOWER_AUTH"}
    assert any("random cookie secret" in note for note in first.notes)
    assert any("no authentication" in note for note in first.notes)


@pytest.mark.parametrize("address", ["0.0.0.0", "", "10.1.2.3", "flower.internal"])
def test_off_loopback_without_authentication_is_refused(address: str) -> None:
    with pytest.raises(FlowerSetupError, match="without authentication: set FLOWER_BASIC_AUTH"):
        plan(address=address, cookie_secret=COOKIE_SECRET)


def test_off_loopback_without_a_configured_cookie_secret_is_refused() -> None:
    with pytest.raises(FlowerSetupError, match="without FLOWER_COOKIE_SECRET"):
        plan(address="0.0.0.0", basic_auth=CREDENTIALS)


def test_off_loopback_with_basic_auth_and_cookie_secret_passes_the_secrets_through_the_environment() -> None:
    launch = plan(address="0.0.0.0", basic_auth=CREDENTIALS, cookie_secret=COOKIE_SECRET)

    assert launch.env == {"FLOWER_BASIC_AUTH": CREDENTIALS, "FLOWER_COOKIE_SECRET": COOKIE_SECRET}
    assert "--address=0.0.0.0" in launch.argv
    shown = " ".join([*launch.argv, *launch.notes, repr(launch)])
    assert PASSWORD not in shown
    assert "cookie-secret" not in shown
    assert any("2 user(s)" in note for note in launch.notes)
    assert any("/metrics and /healthcheck answer without credentials" in note for note in launch.notes)


def test_oauth_counts_as_authentication_when_its_variables_are_set() -> None:
    launch = plan(address="0.0.0.0", cookie_secret=COOKIE_SECRET, auth=".*@example.com", environ=OAUTH_ENV)

    assert "--auth=.*@example.com" in launch.argv
    assert "FLOWER_BASIC_AUTH" in launch.unset
    assert "FLOWER_AUTH" not in launch.unset
    assert OAUTH_ENV["FLOWER_OAUTH2_SECRET"] not in " ".join(launch.argv)


def test_oauth_without_its_variables_names_the_missing_ones() -> None:
    partial = {"FLOWER_OAUTH2_KEY": "client-id"}

    with pytest.raises(FlowerSetupError) as raised:
        plan(address="0.0.0.0", cookie_secret=COOKIE_SECRET, auth="ops@example.com", environ=partial)

    assert (
        str(raised.value) == "--auth (OAuth) needs FLOWER_OAUTH2_SECRET, FLOWER_OAUTH2_REDIRECT_URI in the environment"
    )


def test_an_auth_pattern_flower_would_reject_is_refused() -> None:
    with pytest.raises(FlowerSetupError, match="--auth: expected an email"):
        plan(auth="*@*.example.com", environ=OAUTH_ENV)


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        (f"alice{PASSWORD}", "pair 1 of 1 has no ':'"),
        (f"alice:{PASSWORD},bob", "pair 2 of 2 has no ':'"),
        ("alice:", "pair 1 of 1 has an empty user or password"),
        (f":{PASSWORD}", "pair 1 of 1 has an empty user or password"),
        (f"alice:{PASSWORD}, bob:{PASSWORD}", "pair 2 of 2 has spaces around it"),
    ],
)
def test_malformed_basic_auth_is_refused_without_echoing_it(credentials: str, problem: str) -> None:
    with pytest.raises(FlowerSetupError) as raised:
        plan(basic_auth=credentials)

    assert str(raised.value).endswith(problem)
    assert PASSWORD not in str(raised.value)


def test_a_short_cookie_secret_is_refused_even_on_loopback_without_echoing_it() -> None:
    with pytest.raises(FlowerSetupError) as raised:
        plan(cookie_secret="short-Secret-9")

    assert "expected at least 32 characters, got 14" in str(raised.value)
    assert "short-Secret-9" not in str(raised.value)


@pytest.mark.parametrize(
    "arg",
    [
        f"--cookie_secret={COOKIE_SECRET}",
        f"--cookie-secret={COOKIE_SECRET}",
        f"--basic_auth={CREDENTIALS}",
        f"--oauth2_secret={PASSWORD}",
        f"--broker_api=http://guest:{PASSWORD}@localhost:15672/api/",
        "--unix_socket=/tmp/flower.sock",
        "--address=0.0.0.0",
        "--debug",
        "--logging=DEBUG",
    ],
)
def test_pass_through_options_that_bypass_the_rules_or_leak_secrets_are_refused(arg: str) -> None:
    with pytest.raises(FlowerSetupError, match="is not passed to Flower") as raised:
        plan(flower_args=(arg,))

    assert PASSWORD not in str(raised.value)
    assert "cookie-secret-Hk29" not in str(raised.value)


def test_a_secret_given_as_a_separate_word_is_stopped_at_its_option_before_the_value() -> None:
    with pytest.raises(FlowerSetupError) as raised:
        plan(flower_args=("--cookie_secret", COOKIE_SECRET))

    assert "--cookie_secret is not passed to Flower" in str(raised.value)
    assert "cookie-secret-Hk29" not in str(raised.value)


def test_other_options_pass_through_after_the_commands_own_and_may_set_the_log_level() -> None:
    launch = plan(flower_args=("--url_prefix=flower", "--persistent", "--logging=warning"))

    assert launch.argv[-3:] == ("--url_prefix=flower", "--persistent", "--logging=warning")
    assert "--logging=info" not in launch.argv


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FLOWER_UNAUTHENTICATED_API": "true"}, "FLOWER_UNAUTHENTICATED_API is set"),
        ({"FLOWER_UNIX_SOCKET": "/tmp/flower.sock"}, "FLOWER_UNIX_SOCKET is set"),
    ],
)
def test_flower_variables_that_would_bypass_the_rules_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(FlowerSetupError, match=message):
        plan(environ=environ)


def test_an_unset_flower_unauthenticated_api_is_not_a_problem() -> None:
    assert plan(environ={"FLOWER_UNAUTHENTICATED_API": "false"}).argv[0] == "flower"


# The command itself, through click: errors are one line with exit code 2, and a valid start hands
# Flower an argv without secrets (start_flower is replaced so no server starts here).


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[FlowerLaunch]:
    started: list[FlowerLaunch] = []
    monkeypatch.setattr(monitoring, "start_flower", started.append)
    return started


def assert_one_line_error(output: str, expected: str) -> None:
    assert output.count("\n") == 1, output
    assert output.startswith("tradesim: error: "), output
    assert expected in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--address", "0.0.0.0"], {}, "without authentication"),
        (["--address", "0.0.0.0", "--basic-auth", CREDENTIALS], {}, "without FLOWER_COOKIE_SECRET"),
        (["--basic-auth", f"alice={PASSWORD}"], {}, "has no ':'"),
        ([], {"FLOWER_COOKIE_SECRET": "too-short"}, "expected at least 32 characters"),
        ([], {"CELERY_BROKER_URL": "ftp://broker"}, "CELERY_BROKER_URL: expected a URL"),
        ([f"--cookie_secret={COOKIE_SECRET}"], {}, "is not passed to Flower"),
        (["--persistant=True"], {}, "--persistant is not a Flower option"),
        (["--max_tasks=many"], {}, "Flower option: invalid literal for int()"),
        (["--db"], {}, "Flower option: Option 'db' requires a value"),
        (["--conf=no-such-flowerconfig.py"], {}, "--conf: no such file"),
        (["--auth", "ops@example.com"], {}, "--auth (OAuth) needs FLOWER_OAUTH2_KEY"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line_with_exit_code_2(
    launches: list[FlowerLaunch], args: list[str], env: dict[str, str], expected: str
) -> None:
    result = CliRunner().invoke(flower, args, env=env)

    assert result.exit_code == 2
    assert_one_line_error(result.output, expected)
    assert PASSWORD not in result.output
    assert "cookie-secret-Hk29" not in result.output
    assert launches == []


def test_the_command_reads_secrets_from_settings_and_keeps_them_off_flowers_argv(
    launches: list[FlowerLaunch],
) -> None:
    env = {"FLOWER_BASIC_AUTH": CREDENTIALS, "FLOWER_COOKIE_SECRET": COOKIE_SECRET}

    result = CliRunner().invoke(flower, ["--address", "0.0.0.0", "--port", "5601", "--url_prefix=flower"], env=env)

    assert result.exit_code == 0, result.output
    [launch] = launches
    assert launch.argv == (
        "flower",
        "--address=0.0.0.0",
        "--port=5601",
        "--debug=false",
        "--logging=info",
        "--url_prefix=flower",
    )
    assert launch.env == env
    assert PASSWORD not in result.output
    assert "cookie-secret-Hk29" not in result.output
    assert "tradesim: basic auth for 2 user(s)" in result.output


def test_the_basic_auth_option_wins_over_the_setting(launches: list[FlowerLaunch]) -> None:
    result = CliRunner().invoke(flower, ["--basic-auth", f"carol:{PASSWORD}"], env={"FLOWER_BASIC_AUTH": "x:y"})

    assert result.exit_code == 0, result.output
    assert launches[0].env["FLOWER_BASIC_AUTH"] == f"carol:{PASSWORD}"


def test_the_auth_option_falls_back_to_flower_auth(launches: list[FlowerLaunch]) -> None:
    env = {**OAUTH_ENV, "FLOWER_AUTH": "ops@example.com", "FLOWER_COOKIE_SECRET": COOKIE_SECRET}

    result = CliRunner().invoke(flower, ["--address", "0.0.0.0"], env=env)

    assert result.exit_code == 0, result.output
    assert "--auth=ops@example.com" in launches[0].argv
