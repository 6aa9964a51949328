"""Binance request parameters from the raw query string and form body: query wins, order kept, bad encodings refused.

Rules (binance-api-subset.md §1): any method may carry parameters in the
query string, in an ``application/x-www-form-urlencoded`` body, or both; a key
in both takes the query's value. A body with no Content-Type is read as a
form too. A Content-Type matters only when there is a body, so python-binance's
``Content-Type: application/json`` on its bodiless GETs is ignored. The raw
bytes stay on the ``WireRequest`` for signature checks; nothing here re-encodes.

Refusals, with the Binance code chosen for each:

- ``-1100`` (ILLEGAL_CHARS) for a ``%`` not followed by two hex digits, bytes
  that are not UTF-8 once decoded, an empty name, or a body whose Content-Type
  is neither a form nor absent (e.g. a JSON document), since Binance reads no
  other body format;
- ``-1101`` (TOO_MANY_PARAMETERS, "Duplicate values for a parameter
  detected.") for a key repeated within the query or within the body.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.wire.http import WireRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# A '%' that does not start a two-hex-digit escape: unquote would pass it through silently.
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")

_LEGAL_TEXT = "UTF-8 text, percent-encoded as %XX"


def parse_params(request: WireRequest) -> dict[str, str]:
    """All parameters of ``request``, query first in sent order, then body-only keys in sent order."""
    params = parse_form(request.raw_query)
    if request.raw_body:
        if request.content_type not in ("", FORM_CONTENT_TYPE):
            raise VenueError(
                -1100,
                "Illegal characters found in a parameter. "
                f"The body's Content-Type is '{request.headers['Content-Type']}'; "
                f"expected {FORM_CONTENT_TYPE} or none.",
            )
        for name, value in parse_form(request.raw_body).items():
            params.setdefault(name, value)
    return params


def parse_form(raw: bytes) -> dict[str, str]:
    """Decode one ``a=1&b=2`` part ('+' is a space); empty pieces such as a trailing '&' are skipped."""
    params: dict[str, str] = {}
    for piece in raw.split(b"&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition(b"=")
        name = _decode(raw_name, None)
        if not name:
            raise VenueError(
                -1100, f"Illegal characters found in parameter ''; legal range is 'a non-empty name in {_LEGAL_TEXT}'."
            )
        if name in params:
            raise VenueError(-1101, "Duplicate values for a parameter detected.")
        params[name] = _decode(raw_value, name)
    return params


def _decode(raw: bytes, name: str | None) -> str:
    """Percent-decode strictly; ``name`` is None while decoding the name itself."""
    try:
        if _BROKEN_ESCAPE.search(raw):
            raise ValueError("broken escape")
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        shown = name if name is not None else raw.decode("ascii", "backslashreplace")
        raise VenueError(
            -1100, f"Illegal characters found in parameter '{shown}'; legal range is '{_LEGAL_TEXT}'."
        ) from error
