"""The exchange by URL: ``EXCHANGE_URL`` picks the venue, so going live is a configuration change and nothing else.

Schemes (the list is ``tradesim.config.EXCHANGE_SCHEMES``):

- ``sim://`` — a fresh in-process simulator (``SimExchange``), or the ``venue``
  passed in. Query parameters, all optional::

      seed=42                          market seed (default 0)
      start=2026-01-05T00:00:00Z       the venue's simulated clock starts here (default shown)
      balance=USDT:10000,BTC:1         spot balances (default USDT:10000; empty for none)
      futures_wallet=10000             USD-M wallet in USDT (default 10000)
      spot_symbols=BTCUSDT,ETHUSDT     listed spot pairs (default: the whole default universe)
      futures_symbols=BTCUSDT          listed perpetuals (default: the whole default universe)
      history_days=30                  days of market data before ``start`` (default 30)
      account=sim                      the account's id on the venue (default ``sim``)

  With ``venue=`` only ``account``, ``balance`` and ``futures_wallet`` apply
  (the last two when the account is opened here); with ``clock=`` the venue
  runs on that clock and ``start`` is refused. The same URL gives the same
  prices, orders and fills in every process. Each call opens a new venue that
  lives as long as its client: processes that must share one simulator (Celery
  workers) use ``sim+http://`` instead.
- ``sim+http://HOST:PORT`` — ``BinanceClient`` against ``tradesim sim serve``,
  both markets at that address.
- ``binance://`` — live Binance: spot at api.binance.com, USD-M at fapi.binance.com.
- ``binance-testnet://`` — the testnets: testnet.binance.vision and testnet.binancefuture.com.

Every signed venue needs ``BINANCE_API_KEY`` and ``BINANCE_API_SECRET``, or a
bot's own key pair passed as ``credentials=`` (``sim://`` takes none: its
accounts are chosen by ``account=``). A bad URL or a missing key is one
``ConfigError`` naming the variable, with the URL redacted and no secret in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

from tradesim.clock import Clock, SimClock
from tradesim.config import EXCHANGE_SCHEMES, Settings, get_settings, redact_url
from tradesim.domain.enums import Market
from tradesim.errors import ConfigError
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import LIVE, TESTNET, BaseUrls
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.symbols import SymbolBook
from tradesim.exchange_sim.venue import DEFAULT_HISTORY_DAYS, Venue
from tradesim.security.credentials import ApiCredentials

if TYPE_CHECKING:
    import requests

URL_VARIABLE = "EXCHANGE_URL"
KEY_VARIABLE = "BINANCE_API_KEY"
SECRET_VARIABLE = "BINANCE_API_SECRET"
DEFAULT_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
DEFAULT_ACCOUNT = "sim"
DEFAULT_SPOT_BALANCES: Mapping[str, Decimal] = {"USDT": Decimal(10000)}
DEFAULT_FUTURES_WALLET = Decimal(10000)
BINANCE_URLS: Mapping[str, BaseUrls] = {"binance": LIVE, "binance-testnet": TESTNET}
SIM_PARAMETERS = (
    "seed",
    "start",
    "balance",
    "futures_wallet",
    "spot_symbols",
    "futures_symbols",
    "history_days",
    "account",
)
VENUE_PARAMETERS = ("account", "balance", "futures_wallet")  # what still applies to a venue passed in
_ASSET = re.compile(r"[A-Z0-9]{1,20}")
_ACCOUNT = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class SimOptions:
    """The query parameters of a ``sim://`` URL, parsed; ``given`` names those the URL set."""

    seed: int = 0
    start: datetime = DEFAULT_START
    balances: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_SPOT_BALANCES))
    futures_wallet: Decimal = DEFAULT_FUTURES_WALLET
    spot_symbols: tuple[str, ...] | None = None
    futures_symbols: tuple[str, ...] | None = None
    history_days: int = DEFAULT_HISTORY_DAYS
    account: str = DEFAULT_ACCOUNT
    given: frozenset[str] = frozenset()


def open_exchange(
    target: str | Settings | None = None,
    *,
    settings: Settings | None = None,
    venue: Venue | None = None,
    clock: Clock | None = None,
    session: requests.Session | None = None,
    credentials: ApiCredentials | None = None,
    **client_options: Any,
) -> ExchangeClient:
    """The exchange ``target`` names: a URL, the ``EXCHANGE_URL`` of a ``Settings``, or of ``get_settings()``.

    Keys come from ``settings`` (or the target ``Settings``; else ``get_settings()``,
    read only for a signed venue). ``venue`` is for ``sim://``: an existing venue
    to trade on. ``clock`` is, for ``sim://``, the clock a fresh venue runs on;
    for a signed venue, the clock ``BinanceClient`` signs requests with.
    ``session`` (the ``requests.Session`` to send on) and ``client_options``
    go to ``BinanceClient``. ``credentials`` (a bot's own key pair) replace the
    settings' keys for a signed venue.
    """
    if isinstance(target, Settings):
        settings = target
        url = target.exchange_url
    elif target is None:
        settings = settings if settings is not None else get_settings()
        url = settings.exchange_url
    else:
        url = target
    scheme = _scheme(url)
    if scheme != "sim" and venue is not None:
        raise ValueError(f"venue= is for sim:// only, not {scheme}://")
    if scheme == "sim":
        if credentials is not None:
            raise ConfigError(
                f"{URL_VARIABLE}={redact_url(url)} takes no API keys (its account is chosen by account=): "
                f"a bot's own credentials need a signed venue, one of sim+http://, binance://, binance-testnet://",
                variable=URL_VARIABLE,
            )
        if session is not None or client_options:
            raise ValueError(f"session= and REST client options are for signed venues, not sim:// ({redact_url(url)})")
        return open_sim(url, venue=venue, clock=clock)
    parts = urlsplit(url)
    if scheme == "sim+http":
        if not _has_port(parts) or parts.username or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise _url_error(url, "sim+http://HOST:PORT with nothing after the port, e.g. sim+http://127.0.0.1:8080")
        base = f"http://{parts.netloc}"
        urls = BaseUrls(spot=base, futures=base)
        # `sim serve` checks signatures against the host's wall clock but its /time is the market's clock
        # (fixed or simulated): an offset measured from it would push every timestamp out of recvWindow.
        client_options.setdefault("time_sync", False)
    else:
        if parts.netloc or parts.path or parts.query or parts.fragment:
            raise _url_error(url, f"{scheme}:// with nothing after it")
        urls = BINANCE_URLS[scheme]
    if credentials is not None:
        api_key, api_secret = credentials.api_key, credentials.api_secret
    else:
        api_key, api_secret = _credentials(settings if settings is not None else get_settings(), scheme)
    return BinanceClient.from_urls(urls, api_key, api_secret, session=session, clock=clock, **client_options)


def open_sim(url: str = "sim://", *, venue: Venue | None = None, clock: Clock | None = None) -> SimExchange:
    """A ``SimExchange`` for a ``sim://`` URL: on ``venue`` when given, else on a fresh venue (see the module)."""
    if venue is not None and clock is not None:
        raise ValueError("give venue= or clock=, not both: a venue runs on its own clock")
    options = sim_options(url)
    if venue is not None:
        extra = sorted(options.given - set(VENUE_PARAMETERS))
        if extra:
            raise _url_error(url, f"only {', '.join(VENUE_PARAMETERS)} with a venue passed in, not {', '.join(extra)}")
        opened = options.account in venue.spot.accounts
        if opened and options.given & {"balance", "futures_wallet"}:
            raise _url_error(url, f"no balance or futures_wallet: account {options.account!r} is open already")
        if not opened:
            _open_account(venue, options)
        return SimExchange(venue, options.account)
    if clock is not None and "start" in options.given:
        raise _url_error(url, "no start parameter when a clock is passed in: the venue runs on that clock")
    book = SymbolBook.default()
    for market, names in ((Market.SPOT, options.spot_symbols), (Market.FUTURES, options.futures_symbols)):
        listed = {info.symbol for info in book.symbols(market)}
        unknown = [name for name in names or () if name not in listed]
        if unknown:
            raise _url_error(url, f"{market.value}_symbols the simulator lists, not {', '.join(unknown)}")
    fresh = Venue(
        clock if clock is not None else SimClock(options.start),
        seed=options.seed,
        history_days=options.history_days,
        book=book,
        spot_symbols=options.spot_symbols,
        futures_symbols=options.futures_symbols,
    )
    _open_account(fresh, options)
    return SimExchange(fresh, options.account)


def sim_options(url: str) -> SimOptions:
    """The parameters of a ``sim://`` URL; a ConfigError naming EXCHANGE_URL for anything else."""
    if _scheme(url) != "sim":
        raise _url_error(url, "a sim:// URL")
    parts = urlsplit(url)
    if parts.netloc or parts.path or parts.fragment:
        raise _url_error(url, "sim:// followed only by ?parameters, e.g. sim://?seed=42")
    values: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        # unquote, not parse_qsl: a '+' in start=...+01:00 is a sign, not a space.
        name, _, value = (unquote(text) for text in pair.partition("="))
        if name not in SIM_PARAMETERS:
            raise _url_error(url, f"sim:// parameters among {', '.join(SIM_PARAMETERS)}, not {name!r}")
        if name in values:
            raise _url_error(url, f"the {name} parameter once")
        values[name] = value.strip()
    default = SimOptions()
    return SimOptions(
        seed=_integer(url, "seed", values["seed"], 0) if "seed" in values else default.seed,
        start=_start(url, values["start"]) if "start" in values else default.start,
        balances=_balances(url, values["balance"]) if "balance" in values else default.balances,
        futures_wallet=(
            _amount(url, "futures_wallet", values["futures_wallet"])
            if "futures_wallet" in values
            else default.futures_wallet
        ),
        spot_symbols=_symbols(url, "spot_symbols", values["spot_symbols"]) if "spot_symbols" in values else None,
        futures_symbols=(
            _symbols(url, "futures_symbols", values["futures_symbols"]) if "futures_symbols" in values else None
        ),
        history_days=(
            _integer(url, "history_days", values["history_days"], 1)
            if "history_days" in values
            else default.history_days
        ),
        account=_account(url, values["account"]) if "account" in values else default.account,
        given=frozenset(values),
    )


def _open_account(venue: Venue, options: SimOptions) -> None:
    venue.add_account(options.account, spot_balances=options.balances, futures_wallet=options.futures_wallet)


# Query parameter parsers: each returns the value or raises the one ConfigError naming the URL.


def _integer(url: str, name: str, value: str, minimum: int) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", value) or int(value) < minimum:
        raise _url_error(url, f"{name} as a whole number >= {minimum}")
    return int(value)


def _amount(url: str, name: str, value: str) -> Decimal:
    if not re.fullmatch(r"[0-9]{1,20}(\.[0-9]{1,20})?", value):
        raise _url_error(url, f"{name} as a plain non-negative decimal such as 10000.5")
    return Decimal(value)


def _balances(url: str, value: str) -> dict[str, Decimal]:
    balances: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        asset, colon, amount = item.partition(":")
        asset = asset.strip().upper()
        if not colon or not _ASSET.fullmatch(asset) or asset in balances:
            raise _url_error(url, "balance as ASSET:AMOUNT pairs, each asset once, e.g. balance=USDT:10000,BTC:1")
        balances[asset] = _amount(url, f"the balance of {asset}", amount.strip())
    return balances


def _symbols(url: str, name: str, value: str) -> tuple[str, ...]:
    names = tuple(part.strip().upper() for part in value.split(",") if part.strip())
    if not names or not all(_ASSET.fullmatch(symbol) for symbol in names):
        raise _url_error(url, f"{name} as comma-separated symbols, e.g. {name}=BTCUSDT,ETHUSDT")
    return names


def _start(url: str, value: str) -> datetime:
    try:
        moment: datetime | None = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise _url_error(url, "start as an ISO-8601 time with its zone, e.g. start=2026-01-05T00:00:00Z")
    return moment.astimezone(timezone.utc)


def _account(url: str, value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise _url_error(url, "account as 1-64 letters, digits or _.:-")
    return value


# Signed venues.


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in EXCHANGE_SCHEMES:
        raise _url_error(url, f"a URL with scheme {' | '.join(s + '://' for s in EXCHANGE_SCHEMES)}")
    return scheme


def _has_port(parts: SplitResult) -> bool:
    try:
        return bool(parts.hostname) and parts.port is not None
    except ValueError:  # a port that is not a number in 0-65535
        return False


def _url_error(url: str, expected: str) -> ConfigError:
    return ConfigError(f"{URL_VARIABLE}: expected {expected}, got {redact_url(url)!r}", variable=URL_VARIABLE)


def _credentials(settings: Settings, scheme: str) -> tuple[str, str]:
    """The key pair a signed venue needs; one ConfigError naming what is missing (never what is there)."""
    key = settings.binance_api_key.get_secret_value().strip() if settings.binance_api_key is not None else ""
    secret = settings.binance_api_secret.get_secret_value().strip() if settings.binance_api_secret is not None else ""
    missing = [name for name, value in ((KEY_VARIABLE, key), (SECRET_VARIABLE, secret)) if not value]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)}: expected the Binance API key pair for {URL_VARIABLE}={scheme}://, "
            f"but {'they are' if len(missing) > 1 else 'it is'} not set",
            variable=missing[0],
        )
    return key, secret
