"""A ``requests`` transport adapter that hands requests to a handler in-process: Binance's hostnames, no socket.

Mount it on any ``requests.Session`` (python-binance, ccxt's sync build and
binance-sdk all use one) and their calls to api.binance.com / fapi.binance.com
reach the simulator unchanged. The handler sees the query and body bytes
exactly as ``requests`` would have put them on the wire: nothing is decoded or
re-encoded on the way.

A handler's ``NoAnswer`` becomes ``requests.exceptions.ReadTimeout`` (or
``ConnectTimeout``) at once, whatever timeout the caller set: in-process there
is nothing to wait for. A ``VenueError`` becomes Binance's error JSON; any
other exception propagates, so a simulator bug fails the test that hit it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.exceptions import ConnectTimeout, ReadTimeout
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse

from tradesim.exchange_sim.wire.http import Handler, Headers, NoAnswer, WireRequest, WireResponse, answer

DEFAULT_BASE_URLS = (
    "https://api.binance.com",
    "https://fapi.binance.com",
    # ccxt's load_markets asks dapi for exchangeInfo under its default options (binance-api-subset.md §2).
    "https://dapi.binance.com",
)


class SimAdapter(BaseAdapter):
    """Serves every request under ``base_urls`` from ``handler``; other URLs fail as an unreachable host would."""

    def __init__(
        self,
        handler: Handler,
        base_urls: Iterable[str] = DEFAULT_BASE_URLS,
        client: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        super().__init__()
        self.handler = handler
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        if not self.base_urls:
            raise ValueError("SimAdapter needs at least one base URL, e.g. 'https://api.binance.com'")
        self.client = client

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        if not any(url == base or url.startswith(base + "/") for base in self.base_urls):
            raise requests.exceptions.ConnectionError(
                f"the simulator adapter serves {', '.join(self.base_urls)}; it was asked for {url}", request=request
            )
        try:
            reply = answer(self.handler, wire_request(request, self.client))
        except NoAnswer as silence:
            timeout_error = ConnectTimeout if silence.phase == "connect" else ReadTimeout
            raise timeout_error(
                f"the simulated venue did not answer {request.method} {url} ({silence.phase} timeout)", request=request
            ) from silence
        return self._response(request, reply, stream)

    def close(self) -> None:
        """Nothing to release: no pools, no sockets. The adapter stays usable, as ``HTTPAdapter`` does."""

    def _response(self, request: requests.PreparedRequest, reply: WireResponse, stream: bool) -> requests.Response:
        headers = HTTPHeaderDict()
        for name, value in reply.wire_headers():
            headers.add(name, value)
        raw = HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=headers,
            status=reply.status,
            reason=reply.reason,
            preload_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = reply.reason
        response.url = request.url or ""
        response.request = request
        # requests types this as HTTPAdapter, but any adapter is what it is used as (e.g. by digest auth).
        response.connection = self  # type: ignore[assignment]
        if not stream:
            _ = response.content  # read now, as HTTPAdapter does, so the body survives the session
        return response


def wire_request(request: requests.PreparedRequest, client: tuple[str, int] = ("127.0.0.1", 0)) -> WireRequest:
    """The ``WireRequest`` a server would have received for this prepared request."""
    parts = urlsplit(request.url or "")
    header_items = list(request.headers.items())
    if "Host" not in request.headers:
        header_items.append(("Host", parts.netloc))
    return WireRequest(
        method=(request.method or "GET").upper(),
        path=unquote_to_bytes(parts.path or "/").decode("utf-8", "replace"),
        raw_query=parts.query.encode("utf-8"),
        raw_body=_body_bytes(request.body),
        headers=Headers(header_items),
        client=client,
    )


def _body_bytes(body: object) -> bytes:
    """The body as urllib3 would send it: str as UTF-8, files read, iterables (chunked uploads) joined."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    read = getattr(body, "read", None)
    if callable(read):
        return _chunk_bytes(read())
    if isinstance(body, Iterable):
        return b"".join(_chunk_bytes(chunk) for chunk in body)
    raise TypeError(f"cannot send a request body of type {type(body).__name__}; expected bytes, str, file or iterable")


def _chunk_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    raise TypeError(f"cannot send a body chunk of type {type(chunk).__name__}; expected bytes or str")


def mount(session: requests.Session, handler: Handler, bases: Iterable[str] = DEFAULT_BASE_URLS) -> SimAdapter:
    """Route ``session``'s requests under ``bases`` to ``handler``; returns the adapter that now serves them."""
    adapter = SimAdapter(handler, bases)
    for base in adapter.base_urls:
        session.mount(base + "/", adapter)
    return adapter
