"""open_exchange: each scheme to its client and venue, the sim:// parameters, and one clear error per bad setting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from tradesim.clock import Clock, SimClock, WallClock
from tradesim.config import Settings, get_settings, load_settings
from tradesim.domain.enums import Market, OrderSide, OrderType
from tradesim.domain.trading import Balance, MarginType, Order, OrderRequest
from tradesim.errors import ConfigError, TradesimError
from tradesim.exchange.binance.client import BinanceClient
from tradesim.exchange.binance.endpoints import LIVE_FUTURES_URL, LIVE_SPOT_URL, TESTNET_FUTURES_URL, TESTNET_SPOT_URL
from tradesim.exchange.factory import open_exchange, open_sim, sim_options
from tradesim.exchange.port import ExchangeClient
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.exchange_sim.wire.adapter import mount
from tradesim.exchange_sim.wire.app import BinanceWireApp
from tradesim.exchange_sim.wire.http import WireRequest, WireResponse
from tradesim.exchange_sim.wire.server import SimServer
from tradesim.security.credentials import ApiCredentials

SECRET = "s3cr3t-never-shown"
KEY = "key-never-shown"
JAN_5 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def settings(**values: object) -> Settings:
    return load_settings(env_file=None, **values)


def sim(url: str, **options: object) -> SimExchange:
    exchange = open_exchange(url, **options)  # type: ignore[arg-type]
    assert isinstance(exchange, SimExchange)
    return exchange


def config_error(url: str, variable: str = "EXCHANGE_URL", **options: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        open_exchange(url, **options)  # type: ignore[arg-type]
    error = caught.value
    assert error.variable == variable
    assert str(error).startswith(variable)
    assert "\n" not in str(error)
    assert SECRET not in str(error)
    assert KEY not in str(error)
    return error


def test_plain_sim_is_a_fresh_venue_with_the_documented_defaults() -> None:
    exchange = sim("sim://")

    assert exchange.account_id == "sim"
    assert exchange.server_time() == JAN_5
    assert exchange.balances(Market.SPOT) == {"USDT": Balance("USDT", Decimal(10000))}
    assert exchange.balances(Market.FUTURES) == {"USDT": Balance("USDT", Decimal(10000))}
    assert exchange.venue.seed == 0
    assert len(exchange.exchange_info(Market.SPOT)) > 50  # the whole default universe


def test_every_sim_parameter_is_applied() -> None:
    exchange = sim(
        "sim://?seed=42&start=2026-02-01T06:30:00Z&balance=USDT:500.5,btc:0.25&futures_wallet=250"
        "&spot_symbols=BTCUSDT,ethusdt&futures_symbols=SOLUSDT&history_days=2&account=bot-7"
    )

    assert (exchange.venue.seed, exchange.account_id) == (42, "bot-7")
    assert exchange.server_time() == datetime(2026, 2, 1, 6, 30, tzinfo=timezone.utc)
    assert exchange.balances(Market.SPOT) == {
        "BTC": Balance("BTC", Decimal("0.25")),
        "USDT": Balance("USDT", Decimal("500.5")),
    }
    assert exchange.balances(Market.FUTURES)["USDT"].free == Decimal(250)
    assert [i.symbol for i in exchange.exchange_info(Market.SPOT)] == ["BTCUSDT", "ETHUSDT"]
    assert [i.symbol for i in exchange.exchange_info(Market.FUTURES)] == ["SOLUSDT"]
    first = exchange.klines(Market.SPOT, "BTCUSDT", "1d", start=datetime(2026, 1, 1, tzinfo=timezone.utc), limit=1)
    assert first[0].opened_at == datetime(2026, 1, 30, tzinfo=timezone.utc)  # two days before the start


def test_start_keeps_its_offset_sign_and_empty_balance_means_none() -> None:
    exchange = sim("sim://?start=2026-01-05T01:00:00%2B01:00&balance=")
    plus_sign_unescaped = sim("sim://?start=2026-01-05T01:00:00+01:00")

    assert exchange.server_time() == JAN_5 == plus_sign_unescaped.server_time()
    assert exchange.balances(Market.SPOT) == {}


def test_the_same_seed_gives_the_same_prices_and_another_seed_others() -> None:
    def prices(url: str) -> list[Decimal]:
        exchange = sim(url)
        exchange.venue.clock.advance(timedelta(hours=5))  # type: ignore[attr-defined]
        closes = [c.close for c in exchange.klines(Market.SPOT, "BTCUSDT", "1h", limit=24)]
        return [*closes, *exchange.ticker_prices(Market.FUTURES, ["BTCUSDT", "ETHUSDT"]).values()]

    url = "sim://?seed=42&spot_symbols=BTCUSDT&futures_symbols=BTCUSDT,ETHUSDT"
    assert prices(url) == prices(url)
    assert prices(url) != prices(url.replace("seed=42", "seed=43"))


def test_settings_or_the_process_settings_choose_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert open_exchange(settings(exchange_url="sim://?seed=3")).venue.seed == 3  # type: ignore[attr-defined]

    monkeypatch.setenv("EXCHANGE_URL", "sim://?seed=5")
    get_settings.cache_clear()
    try:
        assert open_exchange().venue.seed == 5  # type: ignore[attr-defined]
    finally:
        get_settings.cache_clear()


def test_an_existing_venue_gets_the_account_of_the_url() -> None:
    venue = Venue.at("2026-01-05T00:00:00Z", seed=9, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    venue.add_account("desk", spot_balances={"BTC": Decimal(2)})

    bound = sim("sim://?account=desk", venue=venue)
    opened = sim("sim://?balance=USDT:70&futures_wallet=0", venue=venue)

    assert bound.venue is venue is opened.venue
    assert bound.balances(Market.SPOT) == {"BTC": Balance("BTC", Decimal(2))}
    assert (opened.account_id, opened.balances(Market.SPOT)) == ("sim", {"USDT": Balance("USDT", Decimal(70))})
    assert sim("sim://", venue=venue).balances(Market.SPOT) == opened.balances(Market.SPOT)
    assert "seed" in str(config_error("sim://?seed=1", venue=venue))
    assert "open already" in str(config_error("sim://?account=desk&balance=USDT:1", venue=venue))


def test_a_clock_passed_in_drives_the_fresh_venue() -> None:
    clock = SimClock(datetime(2026, 3, 1, tzinfo=timezone.utc))

    exchange = sim("sim://?spot_symbols=BTCUSDT&futures_symbols=BTCUSDT", clock=clock)
    clock.advance(timedelta(minutes=3))

    assert exchange.server_time() == datetime(2026, 3, 1, 0, 3, tzinfo=timezone.utc)
    assert "start" in str(config_error("sim://?start=2026-01-05T00:00:00Z", clock=clock))
    with pytest.raises(ValueError, match="not both"):
        open_sim("sim://", venue=exchange.venue, clock=clock)
    with pytest.raises(ValueError, match="sim:// only"):
        open_exchange("binance://", venue=exchange.venue)
    with pytest.raises(ValueError, match="not sim://"):
        open_exchange("sim://", session=requests.Session())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kraken://", "expected a URL with scheme sim:// | sim+http:// | binance:// | binance-testnet://"),
        ("127.0.0.1:8080", "expected a URL with scheme sim://"),
        ("sim://?sed=1", "parameters among seed, start, balance"),
        ("sim://?seed=1&seed=2", "the seed parameter once"),
        ("sim://?seed=-1", "seed as a whole number >= 0"),
        ("sim://?history_days=0", "history_days as a whole number >= 1"),
        ("sim://?start=2026-01-05T00:00:00", "start as an ISO-8601 time with its zone"),
        ("sim://?start=tomorrow", "start as an ISO-8601 time with its zone"),
        ("sim://?balance=USDT", "balance as ASSET:AMOUNT pairs"),
        ("sim://?balance=USDT:1,USDT:2", "balance as ASSET:AMOUNT pairs"),
        ("sim://?balance=USDT:1e3", "the balance of USDT as a plain non-negative decimal"),
        ("sim://?futures_wallet=-5", "futures_wallet as a plain non-negative decimal"),
        ("sim://?spot_symbols=", "spot_symbols as comma-separated symbols"),
        ("sim://?futures_symbols=BTCUSDT,NOPEUSDT", "futures_symbols the simulator lists, not NOPEUSDT"),
        ("sim://?account=a%20b", "account as 1-64 letters"),
        ("sim://localhost", "sim:// followed only by ?parameters"),
        ("sim+http://127.0.0.1", "sim+http://HOST:PORT"),
        ("sim+http://127.0.0.1:99999", "sim+http://HOST:PORT"),
        ("sim+http://127.0.0.1:8080/api", "sim+http://HOST:PORT"),
        ("binance://api.binance.com", "binance:// with nothing after it"),
        ("binance-testnet://?recvWindow=5000", "binance-testnet:// with nothing after it"),
    ],
)
def test_a_bad_url_is_one_error_naming_exchange_url(url: str, expected: str) -> None:
    error = config_error(url, settings=settings(binance_api_key=KEY, binance_api_secret=SECRET))

    assert expected in str(error)
    assert repr(url) in str(error)


def test_the_url_in_an_error_is_redacted() -> None:
    error = config_error(f"kraken://trader:{SECRET}@host/?token={SECRET}")

    assert "trader:***@host" in str(error)
    assert sim_options("sim://?seed=4").seed == 4
    with pytest.raises(ConfigError, match="expected a sim:// URL"):
        sim_options("binance://")


@pytest.mark.parametrize("url", ["sim+http://127.0.0.1:8080", "binance://", "binance-testnet://"])
@pytest.mark.parametrize(
    ("key", "secret", "named"),
    [
        (None, None, "BINANCE_API_KEY and BINANCE_API_SECRET"),
        (KEY, None, "BINANCE_API_SECRET"),
        (None, SECRET, "BINANCE_API_KEY"),
        ("  ", SECRET, "BINANCE_API_KEY"),
    ],
)
def test_a_signed_venue_without_its_keys_names_the_missing_variable(
    url: str, key: str | None, secret: str | None, named: str
) -> None:
    error = config_error(
        url, named.split()[0], settings=settings(binance_api_key=key, binance_api_secret=secret, exchange_url=url)
    )

    assert str(error).startswith(f"{named}: expected the Binance API key pair for EXCHANGE_URL=")


def keyed_venue(clock: Clock) -> Venue:
    venue = Venue(clock, seed=4, history_days=1, spot_symbols=["BTCUSDT"], futures_symbols=["BTCUSDT"])
    venue.add_account("keyed", api_key=KEY, secret=SECRET, spot_balances={"BTC": Decimal(3)}, futures_wallet=Decimal(5))
    return venue


ENVIRONMENTS = {
    "binance://": (LIVE_SPOT_URL, LIVE_FUTURES_URL),
    "binance-testnet://": (TESTNET_SPOT_URL, TESTNET_FUTURES_URL),
}


@pytest.mark.parametrize("url", list(ENVIRONMENTS))
def test_binance_schemes_sign_for_their_own_environments_hosts(url: str) -> None:
    venue = keyed_venue(SimClock(JAN_5))
    app = BinanceWireApp(venue)
    asked: list[tuple[str, str]] = []
    session = requests.Session()
    for hosts in ENVIRONMENTS.values():
        for base in hosts:

            def handler(request: WireRequest, base: str = base) -> WireResponse:
                asked.append((base, request.path))
                return app(request)

            mount(session, handler, bases=[base])

    client = open_exchange(url, settings=settings(binance_api_key=KEY, binance_api_secret=SECRET), session=session,
                           clock=venue.clock)  # fmt: skip

    assert isinstance(client, BinanceClient)
    assert client.balances(Market.SPOT)["BTC"] == Balance("BTC", Decimal(3))
    assert client.balances(Market.FUTURES)["USDT"].free == Decimal(5)
    spot, futures = ENVIRONMENTS[url]
    assert {base for base, _ in asked} == {spot, futures}
    assert all(path.startswith("/api/" if base == spot else "/fapi/") for base, path in asked)
    assert SECRET not in repr(client)
    assert KEY not in repr(client)
    client.close()


def test_a_bots_own_credentials_sign_instead_of_the_settings_keys() -> None:
    venue = keyed_venue(SimClock(JAN_5))
    own = ApiCredentials("bot-own-key-0001", "bot-own-secret-0001")
    venue.add_account("own", api_key=own.api_key, secret=own.api_secret, spot_balances={"ETH": Decimal(2)})
    session = requests.Session()
    mount(session, BinanceWireApp(venue))

    with_settings_keys = open_exchange("binance://", settings=settings(binance_api_key=KEY, binance_api_secret=SECRET),
                                       session=session, clock=venue.clock, credentials=own)  # fmt: skip
    without_settings_keys = open_exchange("binance://", settings=settings(), session=session, clock=venue.clock,
                                          credentials=own)  # fmt: skip

    for client in (with_settings_keys, without_settings_keys):
        assert client.balances(Market.SPOT) == {"ETH": Balance("ETH", Decimal(2))}
        assert own.api_secret not in repr(client)
        client.close()


def test_the_in_process_simulator_takes_no_credentials() -> None:
    error = config_error("sim://", credentials=ApiCredentials(KEY, SECRET))

    assert "a bot's own credentials need a signed venue" in str(error)


def test_sim_http_reaches_a_served_simulator_for_both_markets() -> None:
    venue = keyed_venue(WallClock())  # as ``tradesim sim serve`` runs by default
    with SimServer(BinanceWireApp.over_http(venue)) as server:
        client = open_exchange(
            f"sim+http://127.0.0.1:{server.port}", settings=settings(binance_api_key=KEY, binance_api_secret=SECRET)
        )
        try:
            assert isinstance(client, BinanceClient)
            assert client.balances(Market.SPOT) == {"BTC": Balance("BTC", Decimal(3))}
            assert client.balances(Market.FUTURES)["USDT"].free == Decimal(5)
            assert client.ticker_prices(Market.FUTURES, ["BTCUSDT"])["BTCUSDT"] > 0
        finally:
            client.close()


def twin_venue() -> Venue:
    venue = Venue.at("2026-01-05T00:00:00Z", seed=3, history_days=3, spot_symbols=["BTCUSDT", "ETHUSDT"],
                     futures_symbols=["BTCUSDT"])  # fmt: skip
    venue.add_account("desk", api_key=KEY, secret=SECRET, spot_balances={"USDT": Decimal(10000), "BTC": Decimal(1)},
                      futures_wallet=Decimal(10000))  # fmt: skip
    return venue


def spot(side: OrderSide, kind: OrderType, client_id: str, quantity: str, price: str | None = None) -> OrderRequest:
    return OrderRequest(Market.SPOT, "BTCUSDT", side, kind, client_id, quantity=Decimal(quantity),
                        price=None if price is None else Decimal(price))  # fmt: skip


def canceled(order: Order) -> Order:
    """Binance's spot cancel answer has no creation time (the REST client dates it by the cancel): compare the rest."""
    return replace(order, created_at=order.updated_at)


BUY, SELL = OrderSide.BUY, OrderSide.SELL
Step = Callable[[ExchangeClient], object]
BEFORE: list[Step] = [
    lambda x: x.server_time(),
    lambda x: x.exchange_info(Market.FUTURES)[0].brackets,
    lambda x: x.klines(Market.SPOT, "BTCUSDT", "1m", limit=3),
    lambda x: x.klines(Market.FUTURES, "BTCUSDT", "1h", start=datetime(2026, 1, 4, tzinfo=timezone.utc), limit=30),
    lambda x: x.klines(Market.SPOT, "ETHUSDT", "5m", limit=2, include_partial=True),
    lambda x: (x.ticker_prices(Market.SPOT), x.tickers_24h(Market.FUTURES)),
    lambda x: (x.balances(Market.SPOT), x.balances(Market.FUTURES)),
    lambda x: x.place_order(spot(BUY, OrderType.MARKET, "m1", "0.01")),
    lambda x: x.place_order(spot(BUY, OrderType.MARKET, "m1", "0.01")),  # a retry: the same order, no second one
    lambda x: x.place_order(spot(SELL, OrderType.MARKET, "m1", "0.01")),  # another order under that id
    lambda x: x.place_order(spot(BUY, OrderType.MARKET, "big", "5")),
    lambda x: x.place_order(spot(BUY, OrderType.LIMIT, "l1", "0.01", "59000")),
    lambda x: x.open_orders(Market.SPOT),
    lambda x: x.set_leverage("BTCUSDT", 5),
    lambda x: x.set_margin_type("BTCUSDT", MarginType.ISOLATED),
    lambda x: x.set_margin_type("BTCUSDT", MarginType.ISOLATED),
    lambda x: x.set_leverage("BTCUSDT", 200),
    lambda x: x.place_order(OrderRequest(Market.FUTURES, "BTCUSDT", SELL, OrderType.MARKET, "f1", Decimal("0.01"))),
    lambda x: (x.positions(), x.balances(Market.FUTURES), x.mark_price("BTCUSDT")),
    lambda x: x.klines(Market.SPOT, "NOPEUSDT", "1m"),
]
AFTER: list[Step] = [
    lambda x: x.get_order(Market.SPOT, "BTCUSDT", client_order_id="l1"),
    lambda x: canceled(x.cancel_order(Market.SPOT, "BTCUSDT", client_order_id="l1")),
    lambda x: x.cancel_order(Market.SPOT, "BTCUSDT", client_order_id="l1"),
    lambda x: (x.my_trades(Market.SPOT, "BTCUSDT"), x.my_trades(Market.FUTURES, "BTCUSDT", limit=1)),
    lambda x: (x.positions("BTCUSDT"), x.balances(Market.FUTURES), x.balances(Market.SPOT)),
]


def outcome(step: Step, client: ExchangeClient) -> object:
    try:
        return step(client)
    except TradesimError as error:
        return type(error), error.code, error.msg


def test_switching_exchange_url_from_the_simulator_to_binance_changes_no_answer() -> None:
    """The same session on twin venues, in-process and over Binance's signed REST: equal domain answers."""
    in_process_venue, wired_venue = twin_venue(), twin_venue()
    in_process = open_exchange("sim://?account=desk", venue=in_process_venue)
    session = requests.Session()
    mount(session, BinanceWireApp(wired_venue))
    over_rest = open_exchange("binance://", settings=settings(binance_api_key=KEY, binance_api_secret=SECRET),
                              session=session, clock=wired_venue.clock, lookup_delays_s=())  # fmt: skip

    for steps, wait in ((BEFORE, timedelta(minutes=5, seconds=7)), (AFTER, timedelta(hours=9))):
        for venue in (in_process_venue, wired_venue):
            venue.clock.advance(wait)  # type: ignore[attr-defined]
        for index, step in enumerate(steps):
            assert outcome(step, in_process) == outcome(step, over_rest), f"step {index} differs"
    over_rest.close()
