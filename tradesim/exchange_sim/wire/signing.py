"""Binance's HMAC-SHA256 request signatures, checked over the bytes as received, and the clocks a recvWindow reads.

The signed payload is the raw query string followed directly by the raw body
(no '&' between them), each with its ``signature=`` pair taken out; nothing
is decoded, sorted or re-encoded, because spot rejects signatures over
decoded payloads (binance-api-subset.md §1).

Check order (Binance's own is undocumented): API key (-2014 missing or blank,
-2015 unknown; both HTTP 401) → parameters parse → ``signature`` present
(-1102) → ``timestamp`` present and an integer of milliseconds (-1102) →
``recvWindow`` a number (-1100) of at most 60000 (-1131 "recvWindow must be
less than 60000", the code and text Binance's futures and spot error lists
give; 60000 itself is accepted, as "may not exceed 60000" says) → HMAC (-1022)
→ timing (-1021). The signature is checked before the timing so that a forged
request learns nothing about the server's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol
from urllib.parse import unquote_to_bytes

from tradesim.clock import Clock
from tradesim.exchange_sim.errors import (
    LEGAL_NUMBER,
    VenueError,
    ahead_of_server,
    api_key_format_invalid,
    bad_signature,
    illegal_characters,
    invalid_api_key,
    mandatory_missing,
    outside_recv_window,
)
from tradesim.exchange_sim.wire.http import WireRequest
from tradesim.exchange_sim.wire.params import parse_params

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
AHEAD_TOLERANCE_MS = 1000

_SIGNATURE_KEY = b"signature"
_MILLISECONDS = re.compile(r"[0-9]{1,20}")
# Spot accepts a fractional recvWindow (microsecond precision); the legal form is Binance's number pattern.
_RECV_WINDOW = re.compile(LEGAL_NUMBER)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TimeSource(Protocol):
    """Where a recvWindow check gets the server's "now", in epoch milliseconds."""

    def now_ms(self) -> int: ...


class WallTime:
    """The host's wall clock: the default when served over HTTP, because clients sign with their own wall clock.

    THIS IS THE ONLY PLACE IN ``tradesim.exchange_sim`` THAT READS THE WALL CLOCK.
    It feeds recvWindow checks only; no simulator state may depend on it.
    """

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "WallTime()"


class ClockTime:
    """The simulator's own clock (e.g. a ``SimClock``), for clients that sign with the simulated time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now_ms(self) -> int:
        return epoch_ms(self._clock.now())

    def __repr__(self) -> str:
        return f"ClockTime({self._clock!r})"


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch, computed exactly (no float)."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def sign(secret: str | bytes, payload: str | bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` under ``secret`` (str is taken as UTF-8)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    message = payload.encode("utf-8") if isinstance(payload, str) else payload
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_payload(request: WireRequest) -> tuple[bytes, str | None]:
    """The bytes the client signed and the signature it sent (None when it sent none).

    A ``signature`` sent twice, in one part or across query and body, is refused
    with -1101: which payload it covers would be a guess.
    """
    signatures: list[bytes] = []
    query = _without_signature(request.raw_query, signatures)
    body = _without_signature(request.raw_body, signatures)
    if len(signatures) > 1:
        raise VenueError(-1101, "Duplicate values for a parameter detected.")
    if not signatures:
        return query + body, None
    try:
        signature = unquote_to_bytes(signatures[0]).decode("ascii")
    except UnicodeDecodeError:
        signature = "\ufffd"  # not hex, so it can only mismatch
    return query + body, signature


def _without_signature(part: bytes, found: list[bytes]) -> bytes:
    kept: list[bytes] = []
    for piece in part.split(b"&"):
        name, _, value = piece.partition(b"=")
        if name == _SIGNATURE_KEY:
            found.append(value)
        else:
            kept.append(piece)
    return b"&".join(kept)


def verify_signed_request(request: WireRequest, secret_for_key: Callable[[str], str | None], now_ms: int) -> str:
    """Check a TRADE/USER_DATA request as Binance does and return its API key; raise ``VenueError`` otherwise.

    ``secret_for_key`` maps an API key to its secret, or None when the key is
    unknown. ``now_ms`` is the server's time from a ``TimeSource``.
    """
    api_key = request.headers.get(API_KEY_HEADER, "").strip()
    if not api_key:
        raise api_key_format_invalid()
    secret = secret_for_key(api_key)
    if secret is None:
        raise invalid_api_key()

    params = parse_params(request)
    payload, signature = signed_payload(request)
    if not signature:
        raise mandatory_missing("signature")
    timestamp = _timestamp(params.get("timestamp", ""))
    recv_window = _recv_window(params.get("recvWindow"))

    expected = sign(secret, payload).encode("ascii")
    if not hmac.compare_digest(expected, signature.lower().encode("ascii", "replace")):
        raise bad_signature()

    if timestamp >= now_ms + AHEAD_TOLERANCE_MS:
        raise ahead_of_server()
    if now_ms - timestamp > recv_window:
        raise outside_recv_window()
    return api_key


def _timestamp(text: str) -> int:
    if not _MILLISECONDS.fullmatch(text):
        raise mandatory_missing("timestamp")
    return int(text)


def _recv_window(text: str | None) -> Decimal:
    if text is None:
        return Decimal(DEFAULT_RECV_WINDOW_MS)
    if not _RECV_WINDOW.fullmatch(text):
        raise illegal_characters("recvWindow")
    window = Decimal(text)
    if window > MAX_RECV_WINDOW_MS:
        raise VenueError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW_MS}")
    return window
