"""What WebSocket clients receive: numbered JSON frames (message, gap, hello) and the reconnect backoff schedule."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

CHANNEL = "tradesim:signals"


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def decode_payload(payload: bytes | str) -> Any:
    """The published payload as JSON if it parses, else the raw text (undecodable bytes replaced)."""
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    try:
        return json.loads(text)
    except ValueError:
        return text


def message_frame(seq: int, channel: str, payload: bytes | str) -> str:
    """One message published on ``channel``, numbered ``seq``."""
    return _encode({"seq": seq, "type": "message", "channel": channel, "data": decode_payload(payload)})


def gap_frame(seq: int, channel: str, down_seconds: float) -> str:
    """The subscription was lost and is back: anything published in the ``down_seconds`` between was missed."""
    return _encode({"seq": seq, "type": "gap", "channel": channel, "down_seconds": round(down_seconds, 3)})


def hello_frame(last_seq: int, channel: str, subscribed: bool) -> str:
    """The first frame a client gets: the last number issued so far (the next frame is numbered above it)."""
    return _encode({"seq": last_seq, "type": "hello", "channel": channel, "subscribed": subscribed})


def backoff_delays(base: float, cap: float, rng: random.Random) -> Iterator[float]:
    """Seconds to wait before each reconnect attempt: doubling from ``base`` up to ``cap``, with jitter.

    Each delay is drawn from the upper half of its step ([step/2, step]), so relays that lost Redis
    together spread out but none retries sooner than half the schedule says.
    """
    step = base
    while True:
        yield rng.uniform(step / 2, step)
        step = min(cap, step * 2)
