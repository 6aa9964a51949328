"""Recorded Binance answers (spot and futures shapes) read into domain values, exactly and as Decimals."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.exchange.binance.support import fixture
from tradesim.domain import symbols as sym
from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.market import Candle, Ticker24h
from tradesim.domain.symbols import LeverageBracket, SymbolInfo
from tradesim.domain.trading import Balance, Fill, MarginType, MarkPrice, Position
from tradesim.exchange.binance import parse, parse_symbols
from tradesim.exchange.binance.endpoints import RateLimit
from tradesim.exchange.binance.parse import WireFormatError


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


D = Decimal


def test_spot_exchange_info_reads_every_filter_of_both_shapes() -> None:
    btc, ltc = parse_symbols.symbols(fixture("spot_exchange_info"), Market.SPOT)

    assert btc == SymbolInfo(
        symbol="BTCUSDT",
        market=Market.SPOT,
        base_asset="BTC",
        quote_asset="USDT",
        filters=(
            sym.PriceFilter(D("0.01"), D("1000000"), D("0.01")),
            sym.LotSize(D("0.00001"), D("9000"), D("0.00001")),
            sym.MarketLotSize(D("0"), D("107.68424154"), D("0")),
            sym.PercentPriceBySide(D("5"), D("0.2"), D("5"), D("0.2"), 5),
            sym.Notional(D("5"), True, D("9000000"), False, 5),
            sym.MaxNumOrders(200),
        ),
        order_types=(
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ),
        base_asset_precision=8,
        quote_asset_precision=8,
        price_precision=2,  # from tickSize 0.01
        quantity_precision=5,  # from stepSize 0.00001
    )
    assert ltc.status == "BREAK"
    assert ltc.filters == (
        sym.PriceFilter(D("0.000001"), D("100000"), D("0.000001")),
        sym.PercentPrice(D("5"), D("0.2"), avg_price_mins=5),
        sym.LotSize(D("0.001"), D("100000"), D("0.001")),
        sym.MinNotional(D("0.0001"), True, 5),
    )
    assert (ltc.price_precision, ltc.quantity_precision) == (6, 3)


def test_futures_exchange_info_keeps_perpetuals_with_their_margin_terms() -> None:
    (btc,) = parse_symbols.symbols(fixture("futures_exchange_info"), Market.FUTURES)

    assert btc == SymbolInfo(
        symbol="BTCUSDT",
        market=Market.FUTURES,
        base_asset="BTC",
        quote_asset="USDT",
        filters=(
            sym.PriceFilter(D("556.80"), D("4529764"), D("0.10")),
            sym.LotSize(D("0.001"), D("1000"), D("0.001")),
            sym.MarketLotSize(D("0.001"), D("120"), D("0.001")),
            sym.MaxNumOrders(200),
            sym.MinNotional(D("100")),
            sym.PercentPrice(D("1.05"), D("0.95"), multiplier_decimal=4),
        ),
        order_types=(
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ),
        status="TRADING",
        base_asset_precision=8,
        quote_asset_precision=8,
        price_precision=2,
        quantity_precision=3,
        time_in_force=("GTC", "IOC", "FOK", "GTX", "GTD"),
        maint_margin_percent=D("2.5"),
        required_margin_percent=D("5"),
        liquidation_fee=D("0.0125"),
        market_take_bound=D("0.05"),
    )


def test_rate_limits_of_exchange_info_skip_raw_requests() -> None:
    assert parse_symbols.rate_limits(fixture("spot_exchange_info")) == [
        RateLimit("weight", "1M", 6000),
        RateLimit("orders", "10S", 100),
        RateLimit("orders", "1D", 200000),
    ]
    assert parse_symbols.rate_limits(fixture("futures_exchange_info"))[0] == RateLimit("weight", "1M", 2400)


def test_leverage_brackets_read_json_numbers_exactly() -> None:
    brackets = parse_symbols.leverage_brackets(fixture("leverage_bracket"))

    assert brackets == {
        "BTCUSDT": (
            LeverageBracket(1, 125, D(0), D(50000), D("0.004"), D(0)),
            LeverageBracket(2, 100, D(50000), D(500000), D("0.005"), D(50)),
        )
    }
    assert str(brackets["BTCUSDT"][0].maint_margin_ratio) == "0.004"  # never via float


def test_klines_read_all_eleven_columns() -> None:
    row = [1767571140000, "63620.43", "63653.73", "63587.43", "63631.82", "1.40782", 1767571199999,
           "89570.2245970", 41, "0.70255", "44698.5845425", "0"]  # fmt: skip

    assert parse.candles([row]) == [
        Candle(
            open_time=1767571140000,
            open=D("63620.43"),
            high=D("63653.73"),
            low=D("63587.43"),
            close=D("63631.82"),
            volume=D("1.40782"),
            close_time=1767571199999,
            quote_volume=D("89570.2245970"),
            trades=41,
            taker_buy_base=D("0.70255"),
            taker_buy_quote=D("44698.5845425"),
        )
    ]


def test_ticker_prices_read_one_object_or_a_list() -> None:
    assert parse.ticker_prices({"symbol": "BTCUSDT", "price": "63631.82000000"}) == {"BTCUSDT": D("63631.82")}
    futures = [
        {"symbol": "BTCUSDT", "price": "63631.80", "time": 1767571199000},
        {"symbol": "ETHUSDT", "price": "3533.9"},
    ]
    assert parse.ticker_prices(futures) == {"BTCUSDT": D("63631.80"), "ETHUSDT": D("3533.9")}


def test_24h_tickers_of_both_markets() -> None:
    (spot,) = parse.tickers_24h(fixture("spot_ticker_24h"))
    (futures,) = parse.tickers_24h(fixture("futures_ticker_24h"))

    assert spot == Ticker24h(
        "BTCUSDT", D("64596.96"), D("64691.76"), D("62810.75"), D("63631.82"), D("1713.56017"),
        D("108596684.6481377"), 1767484800000, 1767571199999, 46777,
    )  # fmt: skip
    assert (futures.last_price, futures.volume, futures.trades) == (D("63631.80"), D("211345.123"), 900000)


def test_spot_full_order_answer_carries_its_fills() -> None:
    order = parse.order(fixture("spot_order_full"), Market.SPOT)

    assert (order.order_id, order.client_order_id, order.status) == (28, "bot7-202601050001", OrderStatus.FILLED)
    assert (order.side, order.type, order.time_in_force) == (OrderSide.BUY, OrderType.MARKET, TimeInForce.GTC)
    assert (order.quantity, order.executed_quantity, order.cumulative_quote) == (D("0.01"), D("0.01"), D("636.201"))
    assert order.created_at == order.updated_at == at(1767571260123)
    assert order.fills == (
        Fill(Market.SPOT, "BTCUSDT", 56, 28, OrderSide.BUY, D("63620"), D("0.006"), D("381.72"), D("0.000006"),
             "BTC", False, at(1767571260123)),
        Fill(Market.SPOT, "BTCUSDT", 57, 28, OrderSide.BUY, D("63620.25"), D("0.004"), D("254.481"), D("0.000004"),
             "BTC", False, at(1767571260123)),
    )  # fmt: skip
    assert order.average_price == D("63620.1")


def test_spot_query_and_cancel_answers() -> None:
    queried = parse.order(fixture("spot_order_query"), Market.SPOT)
    canceled = parse.order(fixture("spot_order_cancel"), Market.SPOT)

    assert (queried.status, queried.price, queried.stop_price) == (OrderStatus.PARTIALLY_FILLED, D(60000), D(0))
    assert (queried.created_at, queried.updated_at) == (at(1767571320000), at(1767571380000))
    assert queried.is_open
    assert queried.fills == ()
    # The cancel's own clientOrderId is not the order's: origClientOrderId is.
    assert (canceled.client_order_id, canceled.status) == ("bot7-202601050002", OrderStatus.CANCELED)
    assert canceled.updated_at == at(1767571440000)


def test_futures_result_and_query_answers() -> None:
    placed = parse.order(fixture("futures_order_result"), Market.FUTURES)
    queried = parse.order(fixture("futures_order_query"), Market.FUTURES)

    assert (placed.order_id, placed.status, placed.reduce_only) == (4011, OrderStatus.FILLED, True)
    assert (placed.cumulative_quote, placed.average_price) == (D("636.155"), D("63615.5"))
    assert placed.created_at == at(1767571260456)  # RESULT has no "time": dated by its update
    assert (queried.created_at, queried.updated_at) == (at(1767571300000), at(1767571300001))
    assert (queried.price, queried.time_in_force) == (D(61000), None)  # GTX has no domain spelling


@pytest.mark.parametrize(
    ("market", "wire", "domain"),
    [
        (Market.SPOT, "LIMIT_MAKER", OrderType.LIMIT),
        (Market.SPOT, "STOP_LOSS", OrderType.STOP_MARKET),
        (Market.SPOT, "TAKE_PROFIT", OrderType.TAKE_PROFIT_MARKET),
        (Market.FUTURES, "STOP", OrderType.STOP_LOSS_LIMIT),
        (Market.FUTURES, "TAKE_PROFIT", OrderType.TAKE_PROFIT_LIMIT),
        (Market.FUTURES, "TRAILING_STOP_MARKET", OrderType.STOP_MARKET),
    ],
)
def test_order_types_outside_the_domain_map_to_their_nearest_kin(market: Market, wire: str, domain: OrderType) -> None:
    assert parse.order_type(wire, market) is domain


def test_expired_in_match_is_expired() -> None:
    assert parse.order_status("EXPIRED_IN_MATCH") is OrderStatus.EXPIRED


def test_spot_and_futures_trades() -> None:
    spot = parse.trades(fixture("spot_my_trades"), Market.SPOT)
    (futures,) = parse.trades(fixture("futures_user_trades"), Market.FUTURES)

    assert [(f.trade_id, f.order_id, f.side, f.is_maker) for f in spot] == [
        (56, 28, OrderSide.BUY, False),
        (61, 29, OrderSide.SELL, True),
    ]
    assert (spot[1].quote_quantity, spot[1].commission, spot[1].commission_asset) == (D(300), D("0.3"), "USDT")
    assert futures == Fill(
        Market.FUTURES, "BTCUSDT", 7001, 4011, OrderSide.SELL, D("63615.50"), D("0.010"), D("636.155"),
        D("0.254462"), "USDT", False, at(1767571260456), realized_pnl=D("12.345"),
    )  # fmt: skip


def test_spot_balances_keep_every_asset() -> None:
    assert parse.spot_balances(fixture("spot_account")) == {
        "BTC": Balance("BTC", D("1.0099")),
        "USDT": Balance("USDT", D("98163.799"), D("1200")),
        "BNB": Balance("BNB", D(0)),
    }


def test_futures_balances_are_available_and_initial_margin() -> None:
    balances = parse.futures_balances(fixture("futures_account_v3"))

    assert balances["USDT"] == Balance("USDT", D("9884.559538"), D("127.231"))
    assert balances["USDT"].total == D("10011.790538")  # the margin balance: wallet + unrealized
    assert balances["USDC"] == Balance("USDC", D(0))


def test_positions_from_position_risk_v2_skip_empty_rows() -> None:
    assert parse.positions(fixture("position_risk_v2")) == [
        Position("BTCUSDT", D("-0.010"), D("63615.5"), D("63645.5"), D("-0.3"), D("69715.78685259"), 10,
                 MarginType.ISOLATED, D("63.3155")),
        Position("SOLUSDT", D(12), D("181.20"), D(182), D("9.6"), D(0), 3, MarginType.CROSSED, D(0)),
    ]  # fmt: skip


def test_premium_index_as_mark_price() -> None:
    assert parse.mark_price(fixture("premium_index")) == MarkPrice(
        "BTCUSDT", D("63645.5"), D("63650.12345652"), D("0.0001"), at(1767600000000), at(1767571261000)
    )


def test_leverage_answer() -> None:
    assert parse.leverage({"leverage": 21, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}) == 21


@pytest.mark.parametrize(
    ("reader", "payload"),
    [
        (lambda p: parse.order(p, Market.SPOT), {"symbol": "BTCUSDT"}),
        (lambda p: parse.candles(p), [[1, "x"]]),
        (lambda p: parse.ticker_prices(p), {"symbol": "BTCUSDT", "price": 63000.5}),  # a float is refused
        (lambda p: parse.positions(p), [{"symbol": "BTCUSDT", "positionAmt": "1", "marginType": "cross"}]),
        (lambda p: parse_symbols.symbols(p, Market.SPOT), {"symbols": [{"symbol": "X"}]}),
        (lambda p: parse.spot_balances(p), {"balances": [{"asset": "BTC", "free": "NaN", "locked": "0"}]}),
        (lambda p: parse.orders(p, Market.SPOT), {"code": 0}),
    ],
)
def test_an_unexpected_shape_is_a_wire_format_error(reader: object, payload: object) -> None:
    with pytest.raises(WireFormatError, match="cannot read"):
        reader(payload)  # type: ignore[operator]
