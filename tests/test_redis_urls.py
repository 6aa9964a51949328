"""Redis URLs: AUTH and TLS rules at settings load, and every client built from a ``rediss://`` URL verifies the server.

No server here: the clients are built, not connected (tests/integration/test_redis_tls.py connects them).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flower.utils.broker import Broker
from hypothesis import assume, given
from hypothesis import strategies as st
from redbeat.schedulers import get_redis  # type: ignore[import-untyped]

from tradesim.celery_app import celery_config, create_app
from tradesim.cli import cli
from tradesim.config import Settings, load_settings, redact_url
from tradesim.errors import ConfigError
from tradesim.redis_urls import redis_url_problem, split_password, tls_options
from tradesim.relay.pump import Upstream
from tradesim.tasks import runtime

REDIS_VARIABLES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL", "BEAT_REDIS_URL")
PASSWORD = "pw-TLS7777"


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("a CA certificate; only its existence is checked at settings load\n")
    return path


def tls_url(ca: Path, db: int = 0, user: str = "", extra: str = "") -> str:
    return f"rediss://{user}:{PASSWORD}@redis.internal:6380/{db}?ssl_cert_reqs=required&ssl_ca_certs={ca}{extra}"


def tls_settings(ca: Path) -> Settings:
    return load_settings(
        env_file=None,
        celery_broker_url=tls_url(ca, 0),
        celery_result_backend=tls_url(ca, 0),
        redis_url=tls_url(ca, 1, user="default"),
        beat_redis_url=tls_url(ca, 2),
    )


def config_error(variable: str, value: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None, **{variable.lower(): value})
    assert raised.value.variable == variable
    return str(raised.value)


# The rules, at settings load


@pytest.mark.parametrize("variable", REDIS_VARIABLES)
@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cr3t@127.0.0.1:6379/0",
        "redis://worker:s3cr3t@127.0.0.1:6379/0",
        "redis://:p%40ss%2Fw%3Ard@127.0.0.1/3",
        "rediss://:s3cr3t@redis.internal:6380/0?ssl_cert_reqs=required",  # the system's CAs
        "rediss://redis.internal:6380/0?ssl_cert_reqs=none",
        "rediss://:s3cr3t@10.0.0.5:6380?ssl_cert_reqs=optional&ssl_check_hostname=false",
    ],
)
def test_passwords_and_complete_tls_urls_are_accepted_for_every_redis_variable(variable: str, url: str) -> None:
    settings = load_settings(env_file=None, **{variable.lower(): url})

    assert getattr(settings, variable.lower()) == url


def test_a_tls_url_may_name_a_ca_and_a_client_certificate(tmp_path: Path, ca_file: Path) -> None:
    (tmp_path / "client.pem").write_text("cert")
    (tmp_path / "client.key").write_text("key")
    url = tls_url(ca_file, extra=f"&ssl_certfile={tmp_path / 'client.pem'}&ssl_keyfile={tmp_path / 'client.key'}")

    assert load_settings(env_file=None, redis_url=url).redis_url == url


@pytest.mark.parametrize("variable", REDIS_VARIABLES)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rediss://:{pw}@h:6380/0", "expected a rediss:// URL with ssl_cert_reqs=required|optional|none, e.g. "),
        ("rediss://:{pw}@h:6380/0?ssl_cert_reqs=CERT_REQUIRED", "expected a rediss:// URL with ssl_cert_reqs="),
        ("rediss://:{pw}@h/0?ssl_cert_reqs=required&ssl_ca_certs=/no/such/ca.pem", "expected ssl_ca_certs naming a"),
        ("rediss://:{pw}@h/0?ssl_cert_reqs=none&ssl_cert_reqs=required", "expected each TLS parameter once"),
        ("rediss://:{pw}@h/0?ssl_cert_reqs=none&ssl_verify=1", "expected TLS parameters among ssl_cert_reqs, "),
        ("rediss://:{pw}@h/0?ssl_cert_reqs=required&ssl_check_hostname=0", "expected ssl_check_hostname=true|false"),
        ("redis://:{pw}@h/0?ssl_cert_reqs=required", "expected the rediss:// scheme for a URL with TLS parameters"),
        ("redis://:{pw}@h:port/0", "expected a Redis URL of the form redis[s]://[[user]:password@]host[:port]"),
        ("redis://:{pw}@h/zero", "expected a database number as the URL's path"),
        ("redis://:{pw}@h/²", "expected a database number as the URL's path"),
    ],
)
def test_a_bad_redis_url_is_one_line_naming_the_variable_without_the_password(
    variable: str, url: str, expected: str
) -> None:
    message = config_error(variable, url.format(pw=PASSWORD))

    assert message.startswith(f"invalid configuration: {variable}: {expected}")
    assert ", got '" in message
    assert PASSWORD not in message
    assert "\n" not in message


def test_a_key_file_needs_its_certificate(tmp_path: Path, ca_file: Path) -> None:
    (tmp_path / "client.key").write_text("key")

    message = config_error("REDIS_URL", tls_url(ca_file, extra=f"&ssl_keyfile={tmp_path / 'client.key'}"))

    assert "REDIS_URL: expected ssl_certfile with ssl_keyfile" in message


@pytest.mark.parametrize("password", ["pa/ss-9911", "pa#ss-9911", "pa?ss-9911"])
def test_an_unencoded_reserved_character_in_the_password_is_refused_and_nothing_of_it_shown(password: str) -> None:
    message = config_error("CELERY_BROKER_URL", f"redis://:{password}@127.0.0.1:6379/0")

    assert "percent-encode" in message
    assert "9911" not in message
    assert "pa" not in message.split("got")[1]


@pytest.mark.parametrize(
    "url", ["memory://", "sentinel://:pw@s1:26379;sentinel://:pw@s2:26379", "cache+memory://", "unix:///tmp/r.sock"]
)
def test_urls_without_a_redis_address_of_their_own_are_left_to_their_scheme_check(url: str) -> None:
    assert redis_url_problem(url) is None


@given(password=st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "S"]), min_size=6))
def test_redact_url_shows_no_password_however_badly_it_is_written(password: str) -> None:
    template = "rediss://:{}@redis.internal:6380/0?ssl_cert_reqs=required"
    assume(password not in template.format("***"))

    assert password not in redact_url(template.format(password))


# What the clients are given


def test_tls_options_are_the_urls_ssl_parameters_as_clients_take_them(ca_file: Path) -> None:
    assert tls_options(tls_url(ca_file, extra="&ssl_check_hostname=false")) == {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_ca_certs": str(ca_file),
        "ssl_check_hostname": False,
    }
    assert tls_options("redis://:pw@h/0") is None
    assert tls_options("memory://") is None


def test_celery_and_redbeat_get_the_tls_options_of_their_own_urls(ca_file: Path) -> None:
    plain_beat = load_settings(env_file=None, celery_broker_url=tls_url(ca_file), beat_redis_url="redis://h:6379/2")
    expected = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(ca_file)}

    config = celery_config(tls_settings(ca_file))
    plain = celery_config(load_settings(env_file=None))
    mixed = celery_config(plain_beat)

    assert config["broker_use_ssl"] == config["redis_backend_use_ssl"] == config["redbeat_redis_use_ssl"] == expected
    assert "broker_use_ssl" not in plain
    assert "redis_backend_use_ssl" not in plain
    assert plain["redbeat_redis_use_ssl"] is False
    # The store does not borrow the broker's TLS options.
    assert mixed["broker_use_ssl"] == expected
    assert mixed["redbeat_redis_use_ssl"] is False


def assert_verifies_with(kwargs: dict[str, Any], ca: Path, password: str = PASSWORD) -> None:
    assert kwargs["ssl_cert_reqs"] in ("required", ssl.CERT_REQUIRED)
    assert kwargs["ssl_ca_certs"] == str(ca)
    assert kwargs["password"] == password


def test_the_broker_and_the_result_backend_connect_with_tls_and_the_password(ca_file: Path) -> None:
    app = create_app(tls_settings(ca_file))

    broker = app.connection_for_write()
    backend = app.backend.connparams

    assert (broker.transport_cls, broker.password, broker.port) == ("rediss", PASSWORD, 6380)
    assert broker.ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(ca_file)}
    assert "**" in broker.as_uri()
    assert PASSWORD not in broker.as_uri()
    assert backend["connection_class"] is redis.SSLConnection
    assert_verifies_with(backend, ca_file)


def test_the_beat_store_the_cache_and_the_relay_connect_with_tls_and_the_password(ca_file: Path) -> None:
    settings = tls_settings(ca_file)
    store = get_redis(create_app(settings)).connection_pool
    current = runtime.from_settings(settings)
    relay = Upstream(settings.redis_url).client().connection_pool
    try:
        cache = current.redis.connection_pool
        for pool in (store, cache, relay):
            assert pool.connection_class.__name__ == "SSLConnection"
            assert_verifies_with(pool.connection_kwargs, ca_file)
        assert store.connection_kwargs["db"] == 2
        assert cache.connection_kwargs["username"] == relay.connection_kwargs["username"] == "default"
    finally:
        current.close()
    assert PASSWORD not in repr(current) + repr(store) + repr(relay)


def test_flowers_queue_view_connects_with_the_brokers_tls_options(ca_file: Path) -> None:
    app = create_app(tls_settings(ca_file))
    # As Flower builds it (flower.views.BaseHandler.get_broker): the URL it passes has lost its query.
    with app.connection() as connection:
        uri = connection.as_uri(include_password=True)

    async def pool_kwargs() -> dict[str, Any]:
        broker = Broker(uri, broker_options=app.conf.broker_transport_options, broker_use_ssl=app.conf.broker_use_ssl)
        return dict(broker.redis.connection_pool.connection_kwargs)

    kwargs = asyncio.run(pool_kwargs())

    assert "ssl_ca_certs" not in uri
    assert_verifies_with(kwargs, ca_file)


# Secrets


def test_tradesim_config_shows_tls_urls_without_the_password(ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for number, variable in enumerate(REDIS_VARIABLES):
        monkeypatch.setenv(variable, tls_url(ca_file, number, user="default" if number else ""))

    result = CliRunner().invoke(cli, ["config"])
    # The table wraps long values: read it without its borders and line breaks.
    flat = "".join(character for character in result.output if not character.isspace() and character not in "│┃")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in flat
    assert (
        f"BEAT_REDIS_URLrediss://default:***@redis.internal:6380/3?ssl_cert_reqs=required&ssl_ca_certs={ca_file}"
        in flat
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rediss://:p%2Fw@h:6380/2?ssl_cert_reqs=none", ("rediss://h:6380/2?ssl_cert_reqs=none", "p/w")),
        ("redis://beat:pw@h/2", ("redis://beat@h/2", "pw")),
        ("redis://beat@h/2", ("redis://beat@h/2", None)),
        ("redis://h/2", ("redis://h/2", None)),
    ],
)
def test_split_password(url: str, expected: tuple[str, str | None]) -> None:
    assert split_password(url) == expected


def test_celery_report_and_inspect_conf_show_no_redis_password(ca_file: Path) -> None:
    app = create_app(tls_settings(ca_file))

    # What `celery report` prints and `celery inspect conf` returns.
    shown = app.conf.humanize(with_defaults=False, censored=True)

    assert PASSWORD not in shown
    assert f"redbeat_redis_url: 'rediss://redis.internal:6380/2?ssl_cert_reqs=required&ssl_ca_certs={ca_file}'" in shown
    # The beat store still authenticates: redbeat hands the options to its client.
    assert app.conf.redbeat_redis_options["password"] == PASSWORD


def test_settings_reprs_hide_the_password(ca_file: Path) -> None:
    settings = tls_settings(ca_file)

    assert PASSWORD not in repr(settings) + str(settings) + str(settings.redacted())
    assert settings.redacted()["REDIS_URL"].startswith("rediss://default:***@redis.internal:6380/1?")


def test_a_bad_tls_url_from_the_cli_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAT_REDIS_URL", f"rediss://:{PASSWORD}@redis.internal:6380/2")

    result = CliRunner().invoke(cli, ["config"])

    assert result.exit_code == 2
    assert result.output.startswith("tradesim: error: invalid configuration: BEAT_REDIS_URL: expected a rediss://")
    assert result.output.count("\n") == 1
    assert PASSWORD not in result.output
