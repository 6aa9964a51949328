"""Settings: defaults, environment and .env, validation messages, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.config import Settings, load_settings, normalize_database_url, redact_url
from tradesim.errors import ConfigError


def test_defaults_are_the_seed_systems_values(tmp_path: Path) -> None:
    settings = load_settings(env_file=None)

    assert settings.celery_broker_url == "redis://localhost:6379/0"
    assert settings.celery_result_backend == "redis://localhost:6379/0"
    assert settings.exchange_url == "sim://"
    assert settings.binance_interval == "5m"
    assert settings.polling_interval == 60
    assert settings.min_confidence == 0.7
    assert settings.notify_min_confidence == 0.85
    assert settings.top_pairs == 50
    assert settings.task_time_limit == 180
    assert settings.task_soft_time_limit == 150
    assert settings.binance_api_key is None
    # The embedded default is an SQLite file in the working directory.
    assert settings.database_url == f"sqlite:///{tmp_path / 'tradesim.db'}"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOP_PAIRS", "20")
    monkeypatch.setenv("BINANCE_INTERVAL", "1h")
    monkeypatch.setenv("EXCHANGE_URL", "sim+http://127.0.0.1:8765")

    settings = load_settings(env_file=None)

    assert (settings.top_pairs, settings.binance_interval) == (20, "1h")
    assert settings.exchange_url == "sim+http://127.0.0.1:8765"


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("MIN_CONFIDENCE=0.6\nTOP_PAIRS=10\n")
    monkeypatch.setenv("TOP_PAIRS", "30")

    settings = load_settings()

    assert settings.min_confidence == 0.6
    assert settings.top_pairs == 30


def test_settings_are_frozen() -> None:
    settings = load_settings(env_file=None)

    with pytest.raises(ValueError, match="frozen"):
        settings.top_pairs = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TASK_TIME_LIMIT", "abc", "TASK_TIME_LIMIT: input should be a valid integer"),
        ("TOP_PAIRS", "0", "TOP_PAIRS: input should be greater than 0"),
        ("MIN_CONFIDENCE", "1.5", "MIN_CONFIDENCE: input should be less than or equal to 1"),
        ("BINANCE_INTERVAL", "7m", "BINANCE_INTERVAL: input should be '1m'"),
        ("EXCHANGE_URL", "kraken://", "EXCHANGE_URL: expected a URL with scheme sim://"),
        ("CELERY_BROKER_URL", "localhost:6379", "CELERY_BROKER_URL: expected a URL with scheme redis://"),
        ("DATABASE_URL", "not a url", "DATABASE_URL: expected an SQLAlchemy URL"),
        ("DATABASE_URL", "mysql://root@localhost/db", "DATABASE_URL: expected a sqlite:// or postgresql:// URL"),
        ("TASK_SOFT_TIME_LIMIT", "180", "TASK_SOFT_TIME_LIMIT (180) below TASK_TIME_LIMIT (180)"),
        ("CELERY_VISIBILITY_TIMEOUT", "100", "CELERY_VISIBILITY_TIMEOUT (100) above TASK_TIME_LIMIT (180)"),
        ("BEAT_LOCK_TIMEOUT", "5", "BEAT_LOCK_TIMEOUT (5) above BEAT_MAX_LOOP_INTERVAL (5; about 5x)"),
        ("BEAT_REDIS_URL", "localhost:6379/2", "BEAT_REDIS_URL: expected a URL with scheme redis://"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_was_expected(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)

    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOP_PAIRS", "-1")
    monkeypatch.setenv("POLLING_INTERVAL", "soon")

    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)

    assert "TOP_PAIRS" in str(raised.value)
    assert "POLLING_INTERVAL" in str(raised.value)


def test_secrets_stay_out_of_repr_and_redacted_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "key-AAAA1111")
    monkeypatch.setenv("BINANCE_API_SECRET", "secret-BBBB2222")
    monkeypatch.setenv("DATABASE_URL", "postgresql://trader:pw-CCCC3333@db.internal:5432/prod")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:pw-DDDD4444@redis.internal:6379/0")

    settings = load_settings(env_file=None)
    shown = repr(settings) + str(settings) + str(settings.redacted())

    for secret in ("key-AAAA1111", "secret-BBBB2222", "pw-CCCC3333", "pw-DDDD4444"):
        assert secret not in shown
    assert settings.binance_api_secret is not None
    assert settings.binance_api_secret.get_secret_value() == "secret-BBBB2222"
    assert settings.redacted()["DATABASE_URL"] == "postgresql+psycopg://trader:***@db.internal:5432/prod"


def test_a_bad_secret_value_is_not_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://scott:tiger-EEEE5555@db/orcl")

    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)

    assert "tiger-EEEE5555" not in str(raised.value)
    assert "oracle://scott:***@db/orcl" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_are_normalized_to_the_installed_driver(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:s3cr3t@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:s3cr3t@host/0", "redis://user:***@host/0"),
        ("sim+http://127.0.0.1:9000?seed=1&api_key=k", "sim+http://127.0.0.1:9000?seed=1&api_key=***"),
        ("sim://?seed=42", "sim://?seed=42"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # No host at all: the @ is in a path, and there is nothing secret.
        ("sqlite:////home/a@b/t.db", "sqlite:////home/a@b/t.db"),
        # A whole host and an @ in a query value: nothing secret, and the host stays.
        ("rediss://h:6379/0?ssl_ca_certs=/etc/a@b.pem", "rediss://h:6379/0?ssl_ca_certs=/etc/a@b.pem"),
        ("redis://[::1]:6379/0?note=a@b", "redis://[::1]:6379/0?note=a@b"),
        ("sim+http://127.0.0.1:9000?seed=1&api_key=k@y", "sim+http://127.0.0.1:9000?seed=1&api_key=***"),
    ],
)
def test_redact_url_keeps_the_host_when_an_at_sign_after_it_is_not_userinfo(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Passwords holding unencoded / ? # and @: the split ends the host early, so all up to the last @ goes.
        ("postgresql://trader:p/w?r#d@x-4411@db.internal:5432/prod", "postgresql://***@db.internal:5432/prod"),
        ("redis://:p/w?r#d@x-4411@redis.internal:6379/0", "redis://***@redis.internal:6379/0"),
        ("redis://:@p/w?r#d-4411@redis.internal:6379/0", "redis://***@redis.internal:6379/0"),
        ("redis://:pa/ss-4411@h:6379/0", "redis://***@h:6379/0"),
        ("postgresql://trader:/pass-4411@db/prod", "postgresql://***@db/prod"),
        # Digits before the / ? or # look like a port: the @ in the path, fragment or a query name gives it away.
        ("redis://user:1234/pass-4411@host:6379/0", "redis://***@host:6379/0"),
        ("redis://user:1234?pass-4411@host:6379/0", "redis://***@host:6379/0"),
        ("redis://user:1234#pass-4411@host:6379/0", "redis://***@host:6379/0"),
        # A userinfo of its own and another @ later: which @ ends the password cannot be told, so both may.
        ("rediss://:pw-4411@h:6380/0?ssl_ca_certs=/etc/a@b.pem", "rediss://***@b.pem"),
    ],
)
def test_redact_url_hides_a_password_the_split_cut_short(url: str, expected: str) -> None:
    shown = redact_url(url)

    assert shown == expected
    assert "4411" not in shown


@given(password=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=4, max_size=30))
def test_redact_url_never_leaks_a_password(password: str) -> None:
    url = f"postgresql://trader:{password}@db.internal:5432/prod"

    assert password not in redact_url(url).replace("trader", "").replace("db.internal", "")


def test_settings_class_reads_the_seed_variable_names() -> None:
    names = {name.upper() for name in Settings.model_fields}

    assert {
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "REDIS_URL",
        "DATABASE_URL",
        "EXCHANGE_URL",
        "BINANCE_API_KEY",
        "BINANCE_API_SECRET",
        "BINANCE_INTERVAL",
        "POLLING_INTERVAL",
        "MIN_CONFIDENCE",
        "NOTIFY_MIN_CONFIDENCE",
        "TOP_PAIRS",
        "TASK_TIME_LIMIT",
        "TASK_SOFT_TIME_LIMIT",
    } <= names


GOOD_FERNET_KEY = "jbJEVYripjICDA0828kHc7qPklAsTX8Au7cqKkQxWsg="


@pytest.mark.parametrize(
    ("value", "position"),
    [
        ("not-a-fernet-key", "key 1 of 1"),
        (GOOD_FERNET_KEY[:-2], "key 1 of 1"),
        (f"{GOOD_FERNET_KEY},also-not-a-key", "key 2 of 2"),
        (f"{GOOD_FERNET_KEY},,{GOOD_FERNET_KEY}", "key 2 of 3"),
    ],
)
def test_a_malformed_credentials_key_is_one_line_naming_the_form_and_never_the_key(
    monkeypatch: pytest.MonkeyPatch, value: str, position: str
) -> None:
    monkeypatch.setenv("CREDENTIALS_KEY", value)

    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)

    message = str(raised.value)
    assert raised.value.variable == "CREDENTIALS_KEY"
    assert "CREDENTIALS_KEY: expected comma-separated Fernet keys" in message
    assert "32 url-safe base64-encoded bytes" in message
    assert f"{position} is not one" in message
    assert "Fernet.generate_key()" in message
    assert "\n" not in message
    assert "not-a-fernet-key" not in message
    assert "also-not-a-key" not in message
    assert GOOD_FERNET_KEY[:-2] not in message


def test_credentials_keys_are_secret_and_an_empty_value_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_KEY", f" {GOOD_FERNET_KEY} ")
    settings = load_settings(env_file=None)

    assert settings.redacted()["CREDENTIALS_KEY"] == "***"
    assert GOOD_FERNET_KEY not in repr(settings) + str(settings)
    monkeypatch.setenv("CREDENTIALS_KEY", "")
    assert load_settings(env_file=None).credentials_key is None
