"""Transport-neutral HTTP values: the request as received, the response to write, and the handler between them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal, Protocol

from tradesim.exchange_sim.errors import VenueError

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"

TimeoutPhase = Literal["read", "connect"]


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively; a repeated header is joined with ', ' as HTTP allows."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._by_lower: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._by_lower:
                first_name, first_value = self._by_lower[key]
                self._by_lower[key] = (first_name, f"{first_value}, {value}")
            else:
                self._by_lower[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._by_lower[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_lower

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_lower.values())

    def __len__(self) -> int:
        return len(self._by_lower)

    def __repr__(self) -> str:
        return f"Headers({list(self._by_lower.values())!r})"


@dataclass(frozen=True)
class WireRequest:
    """One request exactly as it arrived: the query and body stay raw bytes because signatures cover those bytes."""

    method: str
    path: str
    raw_query: bytes = b""
    raw_body: bytes = b""
    headers: Headers = field(default_factory=Headers)
    client: tuple[str, int] = ("127.0.0.1", 0)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased; '' when the header is absent."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class WireResponse:
    """A status, headers in order, and the body bytes to write as they are."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def json(cls, payload: object, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> WireResponse:
        """Compact JSON in the key order given, with Binance's Content-Type.

        Decimals and other non-JSON values are refused: the routes must format
        numbers as strings themselves (``format(d, 'f')``), as Binance does.
        """
        body = json.dumps(
            payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_refuse_non_json
        ).encode("utf-8")
        return cls(status, (("Content-Type", JSON_CONTENT_TYPE), *headers), body)

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def wire_headers(self) -> list[tuple[str, str]]:
        """The headers both transports send: the handler's, plus Content-Length when it set none."""
        headers = list(self.headers)
        if self.header("Content-Length") is None:
            headers.append(("Content-Length", str(len(self.body))))
        return headers

    @property
    def reason(self) -> str:
        """The standard reason phrase for the status ('' for a status HTTP does not name)."""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return ""


def _refuse_non_json(value: object) -> object:
    raise TypeError(
        f"cannot put a {type(value).__name__} ({value!r}) in a Binance response; "
        "expected str, int, bool, None, list or dict (format Decimals as strings)"
    )


def error_response(error: VenueError, headers: Iterable[tuple[str, str]] = ()) -> WireResponse:
    """Binance's error answer: ``{"code":…,"msg":…}`` with the error's status and, when set, Retry-After."""
    extra = list(headers)
    if error.retry_after is not None:
        extra.append(("Retry-After", str(error.retry_after)))
    return WireResponse.json(error.body(), status=error.http_status, headers=extra)


class NoAnswer(Exception):
    """Raised by a handler to leave the request unanswered, as a venue that times out does.

    ``phase="read"`` means the request arrived and may have had effects;
    ``phase="connect"`` means the client should believe it never got through.
    The in-process adapter raises the matching ``requests`` timeout at once; the
    HTTP server holds the connection silent, then closes it.
    """

    def __init__(self, phase: TimeoutPhase = "read") -> None:
        super().__init__(f"the venue leaves this request unanswered ({phase} timeout)")
        self.phase: TimeoutPhase = phase


class Handler(Protocol):
    """What serves requests: routes in production, an echo in the transport's tests."""

    def __call__(self, request: WireRequest, /) -> WireResponse: ...


def answer(handler: Handler, request: WireRequest) -> WireResponse:
    """Call the handler; a ``VenueError`` becomes Binance's error JSON. ``NoAnswer`` and bugs propagate."""
    try:
        return handler(request)
    except VenueError as error:
        return error_response(error)
