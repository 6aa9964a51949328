"""Finding the machine's services for tests: skip with a hint, or fail under TRADESIM_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import shutil
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REQUIRE_SERVICES = os.environ.get("TRADESIM_REQUIRE_SERVICES", "") not in ("", "0")
POSTGRES_ADMIN_URL = os.environ.get("TRADESIM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

HOW_TO_START = {
    "postgresql": "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "redis-server": "install Redis (apt-get install redis-server) so tests can start their own",
}


def unavailable(service: str, detail: str) -> NoReturn:
    """Skip the test, or fail it when services are required, naming what to start."""
    message = f"{service} is not available ({detail}); {HOW_TO_START.get(service, '')}".rstrip("; ")
    if REQUIRE_SERVICES:
        pytest.fail(f"TRADESIM_REQUIRE_SERVICES=1 but {message}", pytrace=False)
    pytest.skip(message)


def port_open(url: str, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at the host and port of ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=timeout):
            return True
    except OSError:
        return False


def redis_server_binary() -> str:
    """The path of ``redis-server``, or skip/fail when it is not installed."""
    path = shutil.which("redis-server")
    if path is None:
        unavailable("redis-server", "not on PATH")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
