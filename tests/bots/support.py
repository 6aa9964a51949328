"""Shared pieces of the bots tests: the real simulator client with some answers replaced."""

from __future__ import annotations

from typing import Any

from tradesim.exchange.sim import SimExchange


class Proxy:
    """The real simulator client with some of its answers replaced by a test."""

    def __init__(self, inner: SimExchange) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
