"""The simulator over real HTTP on 127.0.0.1, on waitress: raw query and body to the handler, a clean stop on SIGTERM.

Why waitress: it is maintained (Pylons), pure Python with no dependencies,
threaded, runs on every Python the project supports, hands the application
the raw ``QUERY_STRING``, and its event loop can be stepped from our own loop,
which is what a graceful stop needs: stop accepting, let in-flight requests
finish, then close. (cheroot would also do; werkzeug's server is a
development server by its own description.)

Handler calls are serialized by a lock by default: the trading engine then
sees one request at a time, exactly as through the in-process adapter, while
the worker threads still absorb slow clients and held (``NoAnswer``)
connections. A ``VenueError`` becomes Binance's error JSON; any other
exception is logged and answered 500 with Binance's -1000 body.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from waitress import wasyncore
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.wire.http import (
    Handler,
    Headers,
    NoAnswer,
    WireRequest,
    answer,
    error_response,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

DEFAULT_NO_ANSWER_HOLD_S = 30.0
DEFAULT_DRAIN_TIMEOUT_S = 10.0
DEFAULT_THREADS = 8
# How often the loop looks at the stop flag; a signal handler may only set a flag.
_TICK_S = 0.1

_WSGI_HEADER_NAMES = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def _unknown_error() -> VenueError:
    return VenueError(-1000, "An unknown error occurred while processing the request.", http_status=500)


class SimServer:
    """A threaded HTTP server bound at construction (port 0 picks a free port), served by ``serve`` or ``start``."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = DEFAULT_THREADS,
        no_answer_hold_s: float = DEFAULT_NO_ANSWER_HOLD_S,
        drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
        serialize: bool = True,
    ) -> None:
        self._handler = handler
        self._no_answer_hold_s = no_answer_hold_s
        self._drain_timeout_s = drain_timeout_s
        self._handler_lock: AbstractContextManager[object] = threading.Lock() if serialize else nullcontext()
        self._map: dict[int, Any] = {}
        self._stop_requested = False
        self._released = threading.Event()  # set when stopping: held NoAnswer requests let go
        self._served = False
        self._thread: threading.Thread | None = None
        server = create_server(
            self._application,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            ident="tradesim-sim",
            # Lets the loop notice a client that hung up while its request is held (NoAnswer).
            channel_request_lookahead=1,
            # Pass every header through untouched; there is no proxy in front of the simulator.
            clear_untrusted_proxy_headers=False,
            asyncore_use_poll=True,
        )
        if not isinstance(server, BaseWSGIServer):
            server.close()
            raise ValueError(f"host {host!r} resolves to several addresses; give one literal address such as 127.0.0.1")
        self._server = server
        listening = server.socket
        assert listening is not None
        bound = listening.getsockname()
        self.host: str = bound[0]
        self.port: int = bound[1]

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve(self) -> None:
        """Serve in this thread until ``request_stop``; then drain in-flight requests and close everything."""
        if self._served:
            raise RuntimeError("a SimServer serves once; make a new one")
        self._served = True
        self._run()

    def _run(self) -> None:
        try:
            while not self._stop_requested:
                wasyncore.loop(timeout=_TICK_S, map=self._map, use_poll=True, count=1)
            self._drain()
        finally:
            self._released.set()
            self._server.task_dispatcher.shutdown(timeout=max(1, round(self._drain_timeout_s)))
            wasyncore.close_all(self._map)

    def request_stop(self) -> None:
        """Ask ``serve`` to stop; safe to call from a signal handler (it only sets a flag)."""
        self._stop_requested = True

    def start(self) -> SimServer:
        """Serve in a daemon thread (for tests and embedding); returns self."""
        if self._served:
            raise RuntimeError("a SimServer serves once; make a new one")
        self._served = True
        self._thread = threading.Thread(target=self._run, name=f"tradesim-sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = DEFAULT_DRAIN_TIMEOUT_S + 5) -> None:
        """Stop a server run by ``start`` and wait for its thread; in-flight requests finish first.

        A server that never served just releases its socket.
        """
        self.request_stop()
        if not self._served:
            self._served = True
            self._server.task_dispatcher.shutdown(timeout=1)
            wasyncore.close_all(self._map)
        elif self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the simulator server on {self.url} did not stop within {timeout} s")

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _drain(self) -> None:
        # Close only the listening socket: the server's trigger must stay open to wake the loop for replies.
        wasyncore.dispatcher.close(self._server)
        self._released.set()
        deadline = time.monotonic() + self._drain_timeout_s  # monotonic: a serving deadline, not venue time
        while time.monotonic() < deadline:
            busy = False
            for channel in list(self._map.values()):
                if not isinstance(channel, HTTPChannel):
                    continue
                if channel.requests or channel.total_outbufs_len:
                    busy = True
                elif not channel.will_close:
                    channel.will_close = True  # an idle keep-alive connection: close it now
            if not busy:
                return
            wasyncore.loop(timeout=_TICK_S, map=self._map, use_poll=True, count=1)
        logger.warning("simulator server on %s stopped with requests still in flight", self.url)

    def _application(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _wire_request(environ)
        try:
            with self._handler_lock:
                reply = answer(self._handler, request)
        except NoAnswer:
            self._hold(environ)
            # waitress closes the connection without writing anything when the application raises this.
            raise ClientDisconnected from None
        except Exception:
            logger.exception("simulator handler failed on %s %s", request.method, request.path)
            reply = error_response(_unknown_error())
        start_response(f"{reply.status} {reply.reason or 'Unknown'}", reply.wire_headers())
        return [reply.body]

    def _hold(self, environ: WSGIEnvironment) -> None:
        """Keep a NoAnswer request silent until the hold ends, the server stops, or the client hangs up."""
        client_gone = environ.get("waitress.client_disconnected")
        deadline = time.monotonic() + self._no_answer_hold_s
        while not self._released.wait(min(_TICK_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or (callable(client_gone) and client_gone()):
                return


def _wire_request(environ: WSGIEnvironment) -> WireRequest:
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), value))
        elif key in _WSGI_HEADER_NAMES:
            headers.append((_WSGI_HEADER_NAMES[key], value))
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = environ.get("CONTENT_LENGTH") or "0"
        body = stream.read(int(length)) if length.isascii() and length.isdigit() else b""
    # WSGI carries raw bytes in latin-1 strings; undo that to get the bytes as sent.
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    return WireRequest(
        method=environ["REQUEST_METHOD"].upper(),
        path=path.decode("utf-8", "replace") or "/",
        raw_query=environ.get("QUERY_STRING", "").encode("latin-1"),
        raw_body=body,
        headers=Headers(headers),
        client=(environ.get("REMOTE_ADDR", ""), int(environ.get("REMOTE_PORT") or 0)),
    )


def run_forever(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    announce: TextIO | None = sys.stdout,
    threads: int = DEFAULT_THREADS,
    no_answer_hold_s: float = DEFAULT_NO_ANSWER_HOLD_S,
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly and return (the caller exits 0).

    The first line written to ``announce`` is ``serving on http://HOST:PORT``,
    so a parent that asked for port 0 learns the bound port. Must run in the
    main thread, where Python delivers signals.
    """
    server = SimServer(
        handler, host, port, threads=threads, no_answer_hold_s=no_answer_hold_s, drain_timeout_s=drain_timeout_s
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.request_stop()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        if announce is not None:
            print(f"serving on {server.url}", file=announce, flush=True)
        server.serve()
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
