"""Binance's JSON answers (spot /api/v3, USDⓈ-M /fapi) read into domain values, numbers as exact Decimals.

Written from Binance's documented shapes (binance-api-subset.md §3-§4), not
from the simulator's renderer. A shape these functions cannot read raises
``WireFormatError`` naming what was being read; the client turns it into the
project's exceptions. Numbers arrive as strings, or as JSON numbers decoded
with ``parse_float=Decimal`` (never float).

Where the domain is narrower than Binance, the closest domain value is used:
order types outside the domain's six map to their nearest kin (spot
LIMIT_MAKER → LIMIT, spot STOP_LOSS → STOP_MARKET, futures STOP →
STOP_LOSS_LIMIT, ...), EXPIRED_IN_MATCH → EXPIRED, and a time in force such
as futures GTX/GTD → None. Algo (conditional) orders read into the same ``Order``
(``algo_order``). exchangeInfo and leverage brackets: ``parse_symbols``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar

from tradesim.domain.enums import Market, OrderSide, OrderStatus, OrderType, TimeInForce
from tradesim.domain.market import Candle, Ticker24h, ms_to_datetime
from tradesim.domain.trading import Balance, Fill, MarginType, MarkPrice, Order, Position

ZERO = Decimal(0)
P = ParamSpec("P")
R = TypeVar("R")


class WireFormatError(ValueError):
    """An answer that does not have the shape Binance documents; the message says what was being read."""


def reads(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn the lookup and conversion errors of a reader into one ``WireFormatError`` naming ``what``."""

    def decorate(reader: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(reader)
        def read(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return reader(*args, **kwargs)
            except WireFormatError:
                raise
            except (KeyError, IndexError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
                raise WireFormatError(f"cannot read {what}: {type(exc).__name__} {exc}") from exc

        return read

    return decorate


# Scalars ----------------------------------------------------------------------------------------------------------


def dec(value: object) -> Decimal:
    """A Binance number: a decimal string, or a JSON number already decoded as int or Decimal."""
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, str)):
        number = Decimal(value)
    else:
        raise TypeError(f"expected a decimal string, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def opt_dec(data: Mapping[str, Any], key: str) -> Decimal:
    """An optional number: absent or empty reads as zero."""
    value = data.get(key)
    return ZERO if value is None or value == "" else dec(value)


def integer(value: object) -> int:
    """An int sent as a JSON number or as a string of digits (futures v2 ``leverage``)."""
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise TypeError(f"expected true or false, got {value!r}")


def decimals_of(value: Decimal) -> int:
    """Decimal places ``value`` needs once trailing zeros go: "0.01000000" → 2."""
    if value.is_zero():
        return 0
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return max(0, -exponent)


@reads("a server time")
def server_time(payload: Any) -> int:
    return integer(payload["serverTime"])


# Market data ------------------------------------------------------------------------------------------------------


@reads("klines")
def candles(payload: Any) -> list[Candle]:
    """Kline rows: [open time, o, h, l, c, volume, close time, quote volume, trades, taker base, taker quote, _]."""
    return [
        Candle(
            open_time=integer(row[0]),
            open=dec(row[1]),
            high=dec(row[2]),
            low=dec(row[3]),
            close=dec(row[4]),
            volume=dec(row[5]),
            close_time=integer(row[6]),
            quote_volume=dec(row[7]),
            trades=integer(row[8]),
            taker_buy_base=dec(row[9]),
            taker_buy_quote=dec(row[10]),
        )
        for row in payload
    ]


def _rows(payload: Any) -> list[Mapping[str, Any]]:
    """A one-symbol answer is an object, an all-symbols answer a list of them."""
    return list(payload) if isinstance(payload, list) else [payload]


@reads("ticker prices")
def ticker_prices(payload: Any) -> dict[str, Decimal]:
    return {text(row["symbol"]): dec(row["price"]) for row in _rows(payload)}


@reads("24h tickers")
def tickers_24h(payload: Any) -> list[Ticker24h]:
    return [
        Ticker24h(
            symbol=text(row["symbol"]),
            open_price=dec(row["openPrice"]),
            high_price=dec(row["highPrice"]),
            low_price=dec(row["lowPrice"]),
            last_price=dec(row["lastPrice"]),
            volume=dec(row["volume"]),
            quote_volume=dec(row["quoteVolume"]),
            open_time=integer(row["openTime"]),
            close_time=integer(row["closeTime"]),
            trades=integer(row["count"]),
        )
        for row in _rows(payload)
    ]


@reads("a premium index")
def mark_price(payload: Any) -> MarkPrice:
    row = payload[0] if isinstance(payload, list) else payload
    return MarkPrice(
        symbol=text(row["symbol"]),
        mark_price=dec(row["markPrice"]),
        index_price=dec(row["indexPrice"]),
        funding_rate=opt_dec(row, "lastFundingRate"),
        next_funding_time=ms_to_datetime(integer(row["nextFundingTime"])),
        time=ms_to_datetime(integer(row["time"])),
    )


# Accounts ---------------------------------------------------------------------------------------------------------


@reads("spot account balances")
def spot_balances(payload: Any) -> dict[str, Balance]:
    """``/api/v3/account``: free and locked per asset."""
    return {
        text(row["asset"]): Balance(text(row["asset"]), dec(row["free"]), dec(row["locked"]))
        for row in payload["balances"]
    }


@reads("futures account assets")
def futures_balances(payload: Any) -> dict[str, Balance]:
    """``/fapi/v3/account`` (or v2) ``assets``: free = available balance, locked = initial margin in use."""
    return {
        text(row["asset"]): Balance(text(row["asset"]), dec(row["availableBalance"]), dec(row["initialMargin"]))
        for row in payload["assets"]
    }


_MARGIN_TYPES = {"isolated": MarginType.ISOLATED, "cross": MarginType.CROSSED, "crossed": MarginType.CROSSED}


@reads("futures positions (positionRisk v2)")
def positions(payload: Any) -> list[Position]:
    """``/fapi/v2/positionRisk`` rows with a non-zero amount (v2: it carries leverage and margin type)."""
    found: list[Position] = []
    for row in _rows(payload):
        amount = dec(row["positionAmt"])
        if amount.is_zero():
            continue
        found.append(
            Position(
                symbol=text(row["symbol"]),
                amount=amount,
                entry_price=dec(row["entryPrice"]),
                mark_price=dec(row["markPrice"]),
                unrealized_pnl=dec(row["unRealizedProfit"]),
                liquidation_price=dec(row["liquidationPrice"]),
                leverage=integer(row["leverage"]),
                margin_type=_MARGIN_TYPES[text(row["marginType"]).lower()],
                isolated_margin=opt_dec(row, "isolatedMargin"),
            )
        )
    return found


@reads("a leverage answer")
def leverage(payload: Any) -> int:
    return integer(payload["leverage"])


# Orders and trades ------------------------------------------------------------------------------------------------

_STATUSES = {
    **{status.value: status for status in OrderStatus},
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "PENDING_NEW": OrderStatus.NEW,
    "PENDING_CANCEL": OrderStatus.NEW,
    "NEW_INSURANCE": OrderStatus.NEW,
    "NEW_ADL": OrderStatus.NEW,
}
_DOMAIN_TYPES = {kind.value: kind for kind in OrderType}
_TYPES = {
    Market.SPOT: {
        **_DOMAIN_TYPES,
        "LIMIT_MAKER": OrderType.LIMIT,
        "STOP_LOSS": OrderType.STOP_MARKET,
        "TAKE_PROFIT": OrderType.TAKE_PROFIT_MARKET,
    },
    Market.FUTURES: {
        **_DOMAIN_TYPES,
        "STOP": OrderType.STOP_LOSS_LIMIT,
        "TAKE_PROFIT": OrderType.TAKE_PROFIT_LIMIT,
        "TRAILING_STOP_MARKET": OrderType.STOP_MARKET,
        "LIQUIDATION": OrderType.MARKET,
    },
}
_TIME_IN_FORCE = {tif.value: tif for tif in TimeInForce}


def order_status(value: object) -> OrderStatus:
    return _STATUSES[text(value)]


def order_type(value: object, market: Market) -> OrderType:
    return _TYPES[market][text(value)]


def _time(data: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        if data.get(key) is not None:
            return integer(data[key])
    raise KeyError(" or ".join(keys))


@reads("an order")
def order(payload: Any, market: Market) -> Order:
    """An order answer: spot O (placement, query, cancel) or futures FO; spot FULL answers carry ``fills``.

    A cancel answer's ``clientOrderId`` is the cancel's own id on spot; the
    order's is then ``origClientOrderId``. Answers without a creation time
    (placement, cancel) date the order by their transaction/update time.
    """
    data: Mapping[str, Any] = payload
    symbol = text(data["symbol"])
    order_id = integer(data["orderId"])
    side = OrderSide(text(data["side"]))
    created = _time(data, "time", "transactTime", "updateTime")
    updated = _time(data, "updateTime", "transactTime", "time")
    cumulative_key = "cummulativeQuoteQty" if "cummulativeQuoteQty" in data else "cumQuote"
    tif = data.get("timeInForce")
    fills = tuple(
        Fill(
            market=market,
            symbol=symbol,
            trade_id=integer(row["tradeId"]),
            order_id=order_id,
            side=side,
            price=dec(row["price"]),
            quantity=dec(row["qty"]),
            quote_quantity=dec(row["price"]) * dec(row["qty"]),
            commission=dec(row["commission"]),
            commission_asset=text(row["commissionAsset"]),
            is_maker=False,  # an order's fills in its own placement answer are all taker fills
            time=ms_to_datetime(created),
        )
        for row in data.get("fills", ())
    )
    return Order(
        market=market,
        symbol=symbol,
        order_id=order_id,
        client_order_id=text(data.get("origClientOrderId") or data["clientOrderId"]),
        side=side,
        type=order_type(data["type"], market),
        status=order_status(data["status"]),
        quantity=dec(data["origQty"]),
        executed_quantity=dec(data["executedQty"]),
        cumulative_quote=dec(data[cumulative_key]),
        created_at=ms_to_datetime(created),
        updated_at=ms_to_datetime(updated),
        price=opt_dec(data, "price"),
        stop_price=opt_dec(data, "stopPrice"),
        time_in_force=_TIME_IN_FORCE.get(tif) if isinstance(tif, str) else None,
        reduce_only=flag(data.get("reduceOnly", False)),
        fills=fills,
    )


def orders(payload: Any, market: Market) -> list[Order]:
    if not isinstance(payload, list):
        raise WireFormatError(f"cannot read a list of orders: got {type(payload).__name__}")
    return [order(row, market) for row in payload]


@reads("trades")
def trades(payload: Any, market: Market) -> list[Fill]:
    """Spot ``myTrades`` (isBuyer/isMaker) or futures ``userTrades`` (side, buyer/maker, realizedPnl)."""
    found: list[Fill] = []
    for row in payload:
        buyer = row["isBuyer"] if "isBuyer" in row else row["buyer"]
        side = OrderSide(text(row["side"])) if "side" in row else (OrderSide.BUY if flag(buyer) else OrderSide.SELL)
        maker = row["isMaker"] if "isMaker" in row else row["maker"]
        found.append(
            Fill(
                market=market,
                symbol=text(row["symbol"]),
                trade_id=integer(row["id"]),
                order_id=integer(row["orderId"]),
                side=side,
                price=dec(row["price"]),
                quantity=dec(row["qty"]),
                quote_quantity=dec(row["quoteQty"]),
                commission=dec(row["commission"]),
                commission_asset=text(row["commissionAsset"]),
                is_maker=flag(maker),
                time=ms_to_datetime(integer(row["time"])),
                realized_pnl=opt_dec(row, "realizedPnl"),
            )
        )
    return found


# Algo (conditional) orders: /fapi/v1/algoOrder ------------------------------------------------------------------

# Until it triggers an algo order is waiting (NEW); TRIGGERING/TRIGGERED/FINISHED mean its order was sent to the
# book, whose state the client reads from the regular order endpoint (``AlgoOrder.triggered``).
_ALGO_STATUSES = {
    "NEW": OrderStatus.NEW,
    "TRIGGERING": OrderStatus.NEW,
    "TRIGGERED": OrderStatus.NEW,
    "FINISHED": OrderStatus.NEW,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "REJECTED": OrderStatus.REJECTED,
}
_ALGO_TRIGGERED = frozenset({"TRIGGERED", "FINISHED"})


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """An algo order as a domain ``Order`` (``order_id`` = algoId), and the book order it became, if any."""

    order: Order
    triggered: bool
    actual_order_id: int | None


@reads("an algo order")
def algo_order(payload: Any) -> AlgoOrder:
    """A futures CONDITIONAL algo order (placement or query answer, or a row of ``openAlgoOrders``)."""
    data: Mapping[str, Any] = payload
    algo_status = text(data["algoStatus"])
    created = _time(data, "createTime", "updateTime")
    tif = data.get("timeInForce")
    actual = data.get("actualOrderId")
    order = Order(
        market=Market.FUTURES,
        symbol=text(data["symbol"]),
        order_id=integer(data["algoId"]),
        client_order_id=text(data["clientAlgoId"]),
        side=OrderSide(text(data["side"])),
        type=order_type(data["orderType"], Market.FUTURES),
        status=_ALGO_STATUSES[algo_status],
        quantity=dec(data["quantity"]),
        executed_quantity=ZERO,
        cumulative_quote=ZERO,
        created_at=ms_to_datetime(created),
        updated_at=ms_to_datetime(_time(data, "updateTime", "createTime")),
        price=opt_dec(data, "price"),
        stop_price=dec(data["triggerPrice"]),
        time_in_force=_TIME_IN_FORCE.get(tif) if isinstance(tif, str) else None,
        reduce_only=flag(data.get("reduceOnly", False)),
    )
    actual_id = integer(actual) if actual not in (None, "") else None
    return AlgoOrder(order, algo_status in _ALGO_TRIGGERED, actual_id)


@reads("algo orders")
def algo_orders(payload: Any) -> list[AlgoOrder]:
    if not isinstance(payload, list):
        raise WireFormatError(f"cannot read a list of algo orders: got {type(payload).__name__}")
    return [algo_order(row) for row in payload]
