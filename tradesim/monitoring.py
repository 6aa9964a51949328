"""``tradesim flower``: Celery's Flower for the tradesim app, behind authentication unless it listens on loopback."""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import click
from pydantic import SecretStr

from tradesim.errors import ConfigError

OAUTH_VARIABLES = ("FLOWER_OAUTH2_KEY", "FLOWER_OAUTH2_SECRET", "FLOWER_OAUTH2_REDIRECT_URI")
# Tornado signs cookies with HMAC-SHA256: a short secret is guessable offline.
MIN_COOKIE_SECRET_LENGTH = 32
NEW_SECRET_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
_TRUE_WORDS = ("y", "yes", "t", "true", "on", "1")  # what Flower's strtobool reads as true

# Flower options this command sets itself or refuses on its command line, which any user of the
# machine can read with ps; each with what to do instead. Names as Tornado normalizes them.
_REFUSED_OPTIONS = {
    "address": "use tradesim flower's --address",
    "port": "use tradesim flower's --port",
    "auth": "use tradesim flower's --auth",
    "basic_auth": "set FLOWER_BASIC_AUTH in the environment or .env",
    "cookie_secret": "set FLOWER_COOKIE_SECRET in the environment or .env",
    "oauth2_key": "set FLOWER_OAUTH2_KEY in the environment",
    "oauth2_secret": "set FLOWER_OAUTH2_SECRET in the environment",
    "oauth2_redirect_uri": "set FLOWER_OAUTH2_REDIRECT_URI in the environment",
    "broker_api": "it may hold a password: set FLOWER_BROKER_API in the environment",
    "unix_socket": "a socket file sidesteps the address rules: listen on --address and --port",
    "debug": "debug mode logs the cookie secret and shows tracebacks to visitors",
}


class FlowerSetupError(ValueError):
    """Flower would start insecurely or with bad options; the message is one line and holds no secret."""


@dataclass(frozen=True)
class FlowerLaunch:
    """How to run Flower: its arguments (no secrets), environment changes (the secrets) and notes to print."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    unset: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def is_loopback(address: str) -> bool:
    """True when ``address`` reaches only this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _given(secret: SecretStr | None) -> str | None:
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


def _check_basic_auth(credentials: str) -> int:
    """The number of ``user:password`` pairs in ``credentials``; never echoes them."""
    pairs = credentials.split(",")
    for number, pair in enumerate(pairs, start=1):
        user, colon, password = pair.partition(":")
        problem = ""
        if pair != pair.strip():
            problem = "has spaces around it"
        elif not colon:
            problem = "has no ':'"
        elif not user or not password:
            problem = "has an empty user or password"
        if problem:
            raise FlowerSetupError(
                f"basic auth (--basic-auth or FLOWER_BASIC_AUTH): expected user:password pairs separated by "
                f"commas; pair {number} of {len(pairs)} {problem}"
            )
    return len(pairs)


def _check_flower_args(flower_args: Sequence[str]) -> str | None:
    """Refuse pass-through options that bypass the rules or put secrets in argv; return a --logging value."""
    logging_level = None
    previous = "tradesim flower"
    for arg in flower_args:
        if not arg.startswith("--"):
            raise FlowerSetupError(f"a bare value after {previous}: Flower options take the form --name=value")
        name, _, value = arg[2:].partition("=")
        normalized = name.replace("-", "_").lower()
        if normalized in _REFUSED_OPTIONS:
            raise FlowerSetupError(f"--{name} is not passed to Flower: {_REFUSED_OPTIONS[normalized]}")
        if normalized == "logging":
            if value.lower() == "debug":
                raise FlowerSetupError("--logging=debug is not passed to Flower: it logs the cookie secret")
            logging_level = value
        previous = f"--{name}"
    return logging_level


def _check_environment(environ: Mapping[str, str]) -> None:
    if environ.get("FLOWER_UNIX_SOCKET"):
        raise FlowerSetupError(f"FLOWER_UNIX_SOCKET is set: {_REFUSED_OPTIONS['unix_socket']}")
    if environ.get("FLOWER_UNAUTHENTICATED_API", "").strip().lower() in _TRUE_WORDS:
        raise FlowerSetupError(
            "FLOWER_UNAUTHENTICATED_API is set: it opens Flower's API (revoke, shut down workers) to any "
            "web page without credentials; unset it and use FLOWER_BASIC_AUTH"
        )


def _check_oauth(auth: str, environ: Mapping[str, str]) -> None:
    from flower.utils.authentication import validate_auth_option  # type: ignore[import-untyped]

    if not validate_auth_option(auth):
        raise FlowerSetupError(
            f"--auth: expected an email, emails joined by '|', or one '*' in the part before '@', got {auth!r}"
        )
    missing = [name for name in OAUTH_VARIABLES if not environ.get(name)]
    if missing:
        raise FlowerSetupError(f"--auth (OAuth) needs {', '.join(missing)} in the environment")


def plan_flower(
    address: str,
    port: int,
    basic_auth: SecretStr | None,
    cookie_secret: SecretStr | None,
    auth: str | None,
    flower_args: Sequence[str],
    environ: Mapping[str, str],
) -> FlowerLaunch:
    """Check the rules and say how to run Flower; raise FlowerSetupError naming the first problem.

    Off loopback Flower needs basic auth or OAuth (``auth`` with the FLOWER_OAUTH2_* variables in
    ``environ``) and a configured cookie secret; on loopback a missing cookie secret is made up per run.
    Secrets travel in the environment, where Flower reads its FLOWER_* variables, never in ``argv``.
    """
    _check_environment(environ)
    logging_level = _check_flower_args(flower_args)
    credentials = _given(basic_auth)
    users = _check_basic_auth(credentials) if credentials is not None else 0
    if auth:
        _check_oauth(auth, environ)
    where = address or "every interface"
    local = is_loopback(address)
    if not local and not (users or auth):
        raise FlowerSetupError(
            f"refusing to serve Flower on {where} without authentication: set FLOWER_BASIC_AUTH "
            "(user:password pairs) or --auth with FLOWER_OAUTH2_KEY/SECRET/REDIRECT_URI, or keep --address 127.0.0.1"
        )
    secret = _given(cookie_secret)
    notes = []
    if secret is None:
        if not local:
            raise FlowerSetupError(
                f"refusing to serve Flower on {where} without FLOWER_COOKIE_SECRET: a secret made up per start "
                f"signs everyone out at each restart and differs between replicas; make one with {NEW_SECRET_HINT}"
            )
        secret = secrets.token_urlsafe(48)
        notes.append("FLOWER_COOKIE_SECRET is not set: a random cookie secret for this run (sign-ins end with it)")
    elif len(secret) < MIN_COOKIE_SECRET_LENGTH:
        raise FlowerSetupError(
            f"FLOWER_COOKIE_SECRET: expected at least {MIN_COOKIE_SECRET_LENGTH} characters, got {len(secret)}; "
            f"make one with {NEW_SECRET_HINT}"
        )
    if users:
        notes.append(f"basic auth for {users} user(s)")
    if auth:
        notes.append(f"OAuth sign-in for {auth}")
    if not (users or auth):
        notes.append(f"no authentication: the dashboard is open to every user of this machine ({address})")
    if not local:
        notes.append("/metrics and /healthcheck answer without credentials: keep Flower on an internal network")

    env = {"FLOWER_COOKIE_SECRET": secret}
    unset = []
    if credentials is not None:
        env["FLOWER_BASIC_AUTH"] = credentials
    else:
        unset.append("FLOWER_BASIC_AUTH")
    if not auth:
        unset.append("FLOWER_AUTH")
    # Given explicitly, these win over FLOWER_DEBUG / FLOWER_LOGGING, which would log the cookie secret.
    argv = ["flower", f"--address={address}", f"--port={port}", "--debug=false"]
    if logging_level is None:
        argv.append("--logging=info")
    if auth:
        argv.append(f"--auth={auth}")
    argv += flower_args
    return FlowerLaunch(argv=tuple(argv), env=env, unset=tuple(unset), notes=tuple(notes))


def check_with_flower(argv: Sequence[str]) -> None:
    """Let Flower's own option parser read ``argv`` now, so a typo or bad value fails in one line."""
    import flower.options  # type: ignore[import-untyped]  # noqa: F401  # defines Flower's options
    from tornado.options import Error, options

    for arg in argv[1:]:
        name = arg[2:].partition("=")[0]
        # Tornado prints its whole help before raising on an unknown name: catch it first.
        if name not in options:
            raise FlowerSetupError(f"--{name} is not a Flower option (see: celery flower --help)")
    try:
        options.parse_command_line(["flower", *argv[1:]], final=False)
    except (Error, ValueError) as exc:
        raise FlowerSetupError(f"Flower option: {exc}") from None
    for arg in argv[1:]:
        name, _, value = arg.partition("=")
        if name == "--conf" and not Path(value).is_file():
            raise FlowerSetupError(f"--conf: no such file {value!r}")


def start_flower(launch: FlowerLaunch) -> None:
    """Run Flower in this process until SIGTERM, for the tradesim Celery app."""
    for name in launch.unset:
        os.environ.pop(name, None)
    os.environ.update(launch.env)
    from tradesim.celery_app import app

    app.start(list(launch.argv))


def _fail(message: str, exit_code: int) -> NoReturn:
    # The same one-line form as tradesim.cli.fail, which this module cannot import (cli imports it).
    click.echo(f"tradesim: error: {message}", err=True)
    sys.exit(exit_code)


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]})
@click.option(
    "--address", default="127.0.0.1", show_default=True, help="Address to listen on; off loopback needs auth."
)
@click.option("--port", default=5555, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--basic-auth",
    default=None,
    metavar="USER:PASSWORD[,...]",
    help="Basic auth pairs [FLOWER_BASIC_AUTH]; prefer the variable, since ps shows command lines.",
)
@click.option(
    "--auth",
    envvar="FLOWER_AUTH",
    default=None,
    help="OAuth: emails allowed to sign in (a|b, or one * before @); needs FLOWER_OAUTH2_KEY/SECRET/REDIRECT_URI.",
)
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(address: str, port: int, basic_auth: str | None, auth: str | None, flower_args: tuple[str, ...]) -> None:
    """Start Celery's Flower for tradesim (other --name=value options go to Flower).

    Secrets come from FLOWER_BASIC_AUTH and FLOWER_COOKIE_SECRET (environment or .env) and reach Flower
    through its environment, never its command line.
    """
    from tradesim.config import load_settings

    try:
        settings = load_settings()
        launch = plan_flower(
            address,
            port,
            SecretStr(basic_auth) if basic_auth is not None else settings.flower_basic_auth,
            settings.flower_cookie_secret,
            auth,
            flower_args,
            os.environ,
        )
        check_with_flower(launch.argv)
    except (ConfigError, FlowerSetupError) as exc:
        _fail(str(exc), exit_code=2)
    for note in launch.notes:
        click.echo(f"tradesim: {note}", err=True)
    try:
        start_flower(launch)
    except OSError as exc:  # e.g. the port is taken
        _fail(f"Flower stopped: {exc}", exit_code=1)


if __name__ == "__main__":
    flower.main(prog_name="tradesim flower")
