"""Redis URLs every client reads alike: a password in the URL (AUTH), and TLS (``rediss://``) parameters checked once.

Each Redis client in tradesim reads its URL with a different library (kombu for the broker, Celery's
backend, redis-py for the cache, the relay and redbeat, Flower's own parser), and they disagree where a
URL is loose: kombu connects to a ``rediss://`` URL without ``ssl_cert_reqs`` and verifies nothing,
Celery's backend refuses it; redis-py takes the first of a repeated parameter, kombu the last; kombu
reads ``ssl_check_hostname=0`` as true. So a URL is held here to the subset they all read the same way:

- ``rediss://`` needs ``ssl_cert_reqs=required|optional|none``. With ``required`` the server's
  certificate is checked against ``ssl_ca_certs=<CA file>``, or the system's CAs when that is absent;
- ``ssl_certfile`` (and ``ssl_keyfile``) give a client certificate, for a server that asks for one;
- ``ssl_check_hostname=true|false``; each parameter at most once; no ``ssl_*`` on ``redis://`` or ``unix://``;
- the password in the userinfo (``redis://:pw@host``, ``redis://user:pw@host``), percent-encoded where
  it has one of ``: / ? # @ %``, and the database a number after the host.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TLS_SCHEME = "rediss"
ADDRESS_SCHEMES = ("redis", "rediss")
CERT_REQUIREMENTS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
HOSTNAME_CHECK = {"true": True, "false": False}
FILE_PARAMETERS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
TLS_PARAMETERS = ("ssl_cert_reqs", *FILE_PARAMETERS, "ssl_check_hostname")
URL_FORM = "redis[s]://[[user]:password@]host[:port][/db] (percent-encode any of : / ? # @ % in the password)"
TLS_EXAMPLE = "rediss://:PASSWORD@redis.internal:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/tradesim/redis-ca.pem"


def _tls_parameters(query: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name.startswith("ssl_")]


def redis_url_problem(url: str) -> str | None:
    """What ``url`` needs to be usable by every Redis client, phrased as what is expected; None if nothing.

    Only ``redis://``, ``rediss://`` and ``unix://`` are looked at; the message never quotes the URL (the
    caller adds it, redacted) nor the parser's own error, which can hold part of a password.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ADDRESS_SCHEMES:
            _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return f"a Redis URL of the form {URL_FORM}"
    if scheme not in (*ADDRESS_SCHEMES, "unix"):
        return None
    database = parts.path[1:]
    if scheme in ADDRESS_SCHEMES and database and not (database.isascii() and database.isdigit()):
        return "a database number as the URL's path, as in redis://host:6379/0"
    parameters = _tls_parameters(parts.query)
    names = [name for name, _ in parameters]
    if scheme != TLS_SCHEME:
        if parameters:
            return f"the rediss:// scheme for a URL with TLS parameters ({', '.join(dict.fromkeys(names))})"
        return None
    return _tls_problem(dict(parameters), names)


def _tls_problem(given: dict[str, str], names: list[str]) -> str | None:
    unknown = [name for name in names if name not in TLS_PARAMETERS]
    if unknown:
        return f"TLS parameters among {', '.join(TLS_PARAMETERS)}, not {', '.join(unknown)}"
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return f"each TLS parameter once, not {', '.join(repeated)} more than once (clients read a repeat differently)"
    if given.get("ssl_cert_reqs") not in CERT_REQUIREMENTS:
        return f"a rediss:// URL with ssl_cert_reqs=required|optional|none, e.g. {TLS_EXAMPLE}"
    if "ssl_check_hostname" in given and given["ssl_check_hostname"] not in HOSTNAME_CHECK:
        return "ssl_check_hostname=true|false"
    for name in FILE_PARAMETERS:
        if name in given and not Path(given[name]).is_file():
            return f"{name} naming a readable file (no file at {given[name]!r})"
    if "ssl_keyfile" in given and "ssl_certfile" not in given:
        return "ssl_certfile with ssl_keyfile (the client certificate that key belongs to)"
    return None


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without the password in its userinfo (the user stays), and that password decoded, if any."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return parts._replace(netloc=netloc).geturl(), unquote(parts.password)


def tls_options(url: str) -> dict[str, Any] | None:
    """The ``ssl_*`` client options a checked ``rediss://`` URL carries (None for any other URL).

    Shaped as Celery's ``broker_use_ssl`` and ``redis_backend_use_ssl`` and redbeat's
    ``redbeat_redis_use_ssl`` take them: ``ssl_cert_reqs`` an ``ssl`` constant, ``ssl_check_hostname`` a bool.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != TLS_SCHEME:
        return None
    options: dict[str, Any] = {}
    for name, value in _tls_parameters(parts.query):
        if name == "ssl_cert_reqs":
            options[name] = CERT_REQUIREMENTS[value]
        elif name == "ssl_check_hostname":
            options[name] = HOSTNAME_CHECK[value]
        else:
            options[name] = value
    return options
