"""Redis with TLS and a password, proven with real processes: a worker, a beat leader and every in-process client.

A redis-server of the module's own listens only on a TLS port, with a certificate from a throwaway CA
made here, and asks for a password (one with a ``/``, so every URL must percent-encode it). Broker,
result backend, cache and beat store all use ``rediss://:<password>@127.0.0.1:<port>/<db>?ssl_cert_reqs=
required&ssl_ca_certs=<ca>``, each on a database of its own.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flower.utils.broker import Broker
from redbeat.schedulers import RedBeatConfig  # type: ignore[import-untyped]

from tests.integration.support import BeatProcess, CeleryWorker, RedisServer, RedisTls, wait_for
from tests.local_services import free_port, redis_server_binary
from tradesim.beat.command import schedule
from tradesim.celery_app import create_app
from tradesim.config import Settings, load_settings
from tradesim.relay.pump import Upstream
from tradesim.services.health import LAST_KEY
from tradesim.tasks import runtime

PING = "tradesim.tasks.ping"
HEALTH = "tradesim.tasks.health.system_health_check"
ENTRY = "tls-ping"
BROKER_DB, CACHE_DB, BEAT_DB = 0, 1, 2


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certificates(folder: Path) -> RedisTls:
    """A CA valid for a day and a server certificate it signed for 127.0.0.1; the password is left empty."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("tradesim test CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca = (
        certificate("tradesim test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        certificate("127.0.0.1", server_key)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    files = RedisTls(folder / "server.pem", folder / "server.key", folder / "ca.pem", password="")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(_pem_key(server_key))
    return files


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server on a TLS port only, with a password; stopped after the module."""
    certificates = make_certificates(tmp_path_factory.mktemp("tls-certs"))
    password = f"tls/{secrets.token_hex(8)}"  # the / must be percent-encoded in every URL
    tls = replace(certificates, password=password)
    server = RedisServer(redis_server_binary(), free_port(), tmp_path_factory.mktemp("tls-redis"), tls=tls)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_env(tls_redis: RedisServer) -> dict[str, str]:
    """The four Redis URLs on the TLS server (the cache's as user ``default``), fast beat timings; flushed first."""
    tls_redis.client().flushall()
    return {
        "CELERY_BROKER_URL": tls_redis.url(BROKER_DB),
        "CELERY_RESULT_BACKEND": tls_redis.url(BROKER_DB),
        "REDIS_URL": tls_redis.url(CACHE_DB, user="default"),
        "BEAT_REDIS_URL": tls_redis.url(BEAT_DB),
        "BEAT_LOCK_TIMEOUT": "6",
        "BEAT_MAX_LOOP_INTERVAL": "1",
    }


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(env_file=None, **{name.lower(): value for name, value in env.items()})


def tls_of(server: RedisServer) -> RedisTls:
    assert server.tls is not None
    return server.tls


def full_log(beat: BeatProcess) -> str:
    return "\n".join(path.read_text(errors="replace") for path in (beat.outfile, beat.logfile) if path.exists())


def test_a_worker_and_a_beat_leader_work_over_tls_with_a_password_that_never_reaches_their_logs(
    tls_redis: RedisServer,
    tls_env: dict[str, str],
    start_worker: Callable[..., CeleryWorker],
    start_beat: Callable[..., BeatProcess],
) -> None:
    # `tradesim schedule` reaches the beat store over TLS too: an entry that pings every second.
    added = CliRunner().invoke(schedule, ["add", ENTRY, "--task", PING, "--every", "1"], env=tls_env)
    assert added.exit_code == 0, added.output
    worker = start_worker("tls", env=tls_env)
    beat = start_beat(env=tls_env)
    app = create_app(settings_from(tls_env))
    try:
        # The health check uses the worker's cache client, the broker (kombu) and the broker's Redis directly;
        # its report comes back through the result backend.
        report: dict[str, Any] = app.send_task(HEALTH).get(timeout=30)
        lock_key = RedBeatConfig(app).lock_key
    finally:
        app.close()

    assert {name: report[name]["ok"] for name in ("redis", "broker", "queues", "database")} == dict.fromkeys(
        ("redis", "broker", "queues", "database"), True
    ), report
    assert report["broker"]["url"].startswith("rediss://:***@127.0.0.1:")
    assert isinstance(report["queues"]["lengths"], dict)
    assert tls_redis.client(CACHE_DB).get(LAST_KEY) is not None  # stored by the worker's runtime client
    wait_for(lambda: "beat: Acquired lock" in full_log(beat), 15, "beat to take the leader lock over TLS")
    assert tls_redis.client(BEAT_DB).exists(lock_key) == 1
    wait_for(lambda: f"Task {PING}[" in worker.log() and "succeeded" in worker.log(), 15, "a ping beat sent")
    assert f"Sending due task {ENTRY} ({PING})" in full_log(beat)

    beat.stop()
    worker.stop()
    password = tls_of(tls_redis).password
    logs = {"worker": worker.log(), "beat": full_log(beat)}
    assert "Connected to rediss://:**@127.0.0.1:" in logs["worker"]  # the broker is named, masked
    for name, text in logs.items():
        assert password not in text, f"the password is in the {name} log"
        assert quote(password, safe="") not in text, f"the percent-encoded password is in the {name} log"


def test_the_cache_the_relay_and_flowers_queue_view_connect_over_tls(tls_env: dict[str, str]) -> None:
    settings = settings_from(tls_env)
    current = runtime.from_settings(settings)
    try:
        current.redis.set("tradesim:tls-probe", "ok", ex=30)
        assert current.redis.get("tradesim:tls-probe") == b"ok"
    finally:
        current.close()
    app = create_app(settings)
    with app.connection() as connection:
        broker_uri = connection.as_uri(include_password=True)

    async def relay_and_flower() -> tuple[bool, list[dict[str, Any]]]:
        client = Upstream(settings.redis_url).client()
        try:
            pong = bool(await client.ping())
        finally:
            await client.aclose()
        broker = Broker(
            broker_uri, broker_options=app.conf.broker_transport_options, broker_use_ssl=app.conf.broker_use_ssl
        )
        return pong, await broker.queues(["maintenance"])

    pong, queues = asyncio.run(relay_and_flower())

    assert pong is True
    assert queues == [{"name": "maintenance", "messages": 0}]


def test_a_wrong_password_no_password_a_plain_client_or_an_unknown_ca_is_refused(tls_redis: RedisServer) -> None:
    password = quote(tls_of(tls_redis).password, safe="")
    address = f"127.0.0.1:{tls_redis.port}/0"
    ca = f"ssl_cert_reqs=required&ssl_ca_certs={tls_of(tls_redis).ca}"

    def refusal(url: str) -> redis.RedisError:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            with pytest.raises(redis.RedisError) as raised:
                client.ping()
        finally:
            client.close()
        return raised.value

    wrong = refusal(f"rediss://:not-{password}@{address}?{ca}")
    missing = refusal(f"rediss://{address}?{ca}")
    plain = refusal(f"redis://:{password}@{address}")
    unknown_ca = refusal(f"rediss://:{password}@{address}?ssl_cert_reqs=required")  # the system's CAs only

    assert isinstance(wrong, redis.AuthenticationError)
    assert "invalid username-password pair" in str(wrong)
    assert isinstance(missing, redis.AuthenticationError)
    # The server speaks only TLS there: it drops the plain connection before any reply.
    assert type(plain) is redis.ConnectionError
    assert "reset by peer" in str(plain) or "closed by server" in str(plain)
    assert type(unknown_ca) is redis.ConnectionError
    assert "CERTIFICATE_VERIFY_FAILED" in str(unknown_ca)
