"""A real ``tradesim flower`` process for the integration tests, and the reads they make of its API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from celery import Celery

from tests.integration.support import REPO_ROOT, stop_process_group, wait_for
from tests.local_services import free_port

PING = "tradesim.tasks.ping"
FLOWER_USER = "ops"


class FlowerProcess:
    """``python -m tradesim.monitoring`` on a free loopback port, its output and Tornado log in ``workdir``."""

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.outfile = workdir / "flower.out"
        self.logfile = workdir / "flower.log"  # on the command line, so the suite's leftover check finds it
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    def start(self) -> FlowerProcess:
        command = [sys.executable, "-m", "tradesim.monitoring", "--port", str(self.port)]
        command.append(f"--log_file_prefix={self.logfile}")
        with self.outfile.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **self.env},
                cwd=REPO_ROOT,
                start_new_session=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthy, 30, f"Flower's /healthcheck on port {self.port}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"flower exited with {self.process.returncode}:\n{self.log()}")
        try:
            return requests.get(f"{self.url}/healthcheck", timeout=2).text == "OK"
        except requests.ConnectionError:
            return False

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in (self.outfile, self.logfile) if path.exists())

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=10)
            self.returncode = self.process.returncode
            self.process = None


def api(flower: FlowerProcess, path: str, auth: tuple[str, str]) -> Any:
    response = requests.get(f"{flower.url}{path}", auth=auth, timeout=30)
    response.raise_for_status()
    return response.json()


def flower_saw_a_ping(producer: Celery, flower: FlowerProcess, auth: tuple[str, str]) -> bool:
    """Run one ping and give Flower 3 s to list it: events sent before its receiver listened are gone for good."""
    result = producer.send_task(PING)
    result.get(timeout=30)
    try:
        wait_for(lambda: result.id in api(flower, "/api/tasks", auth), 3, "the ping in /api/tasks", interval=0.2)
    except TimeoutError:
        return False
    return True
