"""Binance USD-M futures JSON shapes (binance-api-subset.md §4): venue records in, dicts of strings, ints and bools out.

Numbers follow Binance's futures style, never in exponent form:

- prices (order price, stopPrice, klines, tickers, book, fills) are padded to the symbol's ``pricePrecision``
  and quantities to its ``quantityPrecision`` (``"67250.10"``, ``"0.010"``); the venue keeps them on the
  tick and step, so nothing is cut;
- a quote amount that is an exact product (``cumQuote``, a fill's ``quoteQty``) is padded to both
  precisions summed (``"672.50100"``); ``avgPrice`` is the one quotient of an order and is rounded
  half-even to ``pricePrecision + 3`` decimals, as Binance writes it;
- money booked to the wallet (income, commission, realized PnL) and the mark, index and funding figures
  are written like spot amounts: 8 decimals, or in full when the value has more;
- account and position figures (balances, margins, PnL, mark, entry, break-even and liquidation prices)
  have 8 decimals; the quotients among them (margins, entry prices) are rounded half-even there; a
  position amount is a quantity.

Key order follows Binance's documented examples. Choices where the venue keeps less than Binance shows:
``selfTradePreventionMode`` and ``priceProtect`` are echoed by the answer of the order that sent them and
shown as ``EXPIRE_MAKER`` / false afterwards (orders do not store them); ``priceMatch`` is always ``NONE``,
``closePosition`` false and ``goodTillDate`` 0; the 24h ticker's ``lastQty`` is 0 and ``firstId``/``lastId``
number the window's trades from 0 (no public trade tape). Account, position, balance and income rows are
rendered by ``futures_account_render``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from tradesim.domain.market import BookLevel, Candle, Ticker24h
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim.futures_orders import FuturesOrder, FuturesTrade
from tradesim.exchange_sim.numbers import format_decimal, written_decimals
from tradesim.exchange_sim.ratelimit import RateLimit
from tradesim.exchange_sim.symbols import render_exchange_info_symbol
from tradesim.exchange_sim.wire.spot_render import amount

FIGURE_PLACES = 8
AVG_PRICE_EXTRA_PLACES = 3
PERCENT_PLACES = 3
INTEREST_RATE = "0.00010000"
DEFAULT_STP_MODE = "EXPIRE_MAKER"
CONDITIONAL = "CONDITIONAL"
DONE = {"code": 200, "msg": "success"}
CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}
_EXACT = Context(prec=80)

# Numbers ------------------------------------------------------------------------------------------------


def price(info: SymbolInfo, value: Decimal) -> str:
    return format_decimal(value, info.price_precision)


def quantity(info: SymbolInfo, value: Decimal) -> str:
    return format_decimal(value, info.quantity_precision)


def quote(info: SymbolInfo, value: Decimal) -> str:
    """An exact price x quantity sum, padded to both precisions."""
    return format_decimal(value, info.price_precision + info.quantity_precision)


def rounded(value: Decimal, places: int) -> str:
    return format_decimal(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN, _EXACT), places)


def figure(value: Decimal) -> str:
    """An account or position figure: 8 decimals, a longer quotient rounded half-even."""
    exact = value.normalize(_EXACT)  # trailing zeros dropped, so a value held with 9 zero-padded places fits
    if written_decimals(exact) > FIGURE_PLACES:
        return rounded(value, FIGURE_PLACES)
    return format_decimal(exact, FIGURE_PLACES)


def avg_price(info: SymbolInfo, value: Decimal) -> str:
    return rounded(value, info.price_precision + AVG_PRICE_EXTRA_PLACES)


# Market data ----------------------------------------------------------------------------------------------


def exchange_info(symbols: Sequence[SymbolInfo], rate_limits: Sequence[RateLimit], server_time: int) -> dict[str, Any]:
    margin_assets = sorted({info.quote_asset for info in symbols})
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U_MARGINED",
        "rateLimits": [limit.to_json() for limit in rate_limits],
        "exchangeFilters": [],
        "assets": [{"asset": asset, "marginAvailable": True, "autoAssetExchange": "0"} for asset in margin_assets],
        "symbols": [render_exchange_info_symbol(info) for info in symbols],
    }


def kline_row(info: SymbolInfo, candle: Candle) -> list[Any]:
    """The 12 columns of a kline; the last is Binance's unused field, always ``"0"``."""
    return [
        candle.open_time,
        price(info, candle.open),
        price(info, candle.high),
        price(info, candle.low),
        price(info, candle.close),
        quantity(info, candle.volume),
        candle.close_time,
        format_decimal(candle.quote_volume),
        candle.trades,
        quantity(info, candle.taker_buy_base),
        format_decimal(candle.taker_buy_quote),
        "0",
    ]


def ticker_price(info: SymbolInfo, last: Decimal, now_ms: int) -> dict[str, Any]:
    return {"symbol": info.symbol, "price": price(info, last), "time": now_ms}


def ticker_24h(info: SymbolInfo, ticker: Ticker24h) -> dict[str, Any]:
    """Futures' 24h statistics: spot's without the book fields and ``prevClosePrice``."""
    first_id, last_id = (0, ticker.trades - 1) if ticker.trades else (-1, -1)
    weighted = ticker.quote_volume / ticker.volume if ticker.volume else Decimal(0)
    return {
        "symbol": ticker.symbol,
        "priceChange": price(info, ticker.price_change),
        "priceChangePercent": rounded(ticker.price_change_percent, PERCENT_PLACES),
        "weightedAvgPrice": rounded(weighted, info.price_precision),
        "lastPrice": price(info, ticker.last_price),
        "lastQty": quantity(info, Decimal(0)),
        "openPrice": price(info, ticker.open_price),
        "highPrice": price(info, ticker.high_price),
        "lowPrice": price(info, ticker.low_price),
        "volume": quantity(info, ticker.volume),
        "quoteVolume": format_decimal(ticker.quote_volume),
        "openTime": ticker.open_time,
        "closeTime": ticker.close_time,
        "firstId": first_id,
        "lastId": last_id,
        "count": ticker.trades,
    }


def depth(info: SymbolInfo, now_ms: int, bids: Iterable[BookLevel], asks: Iterable[BookLevel]) -> dict[str, Any]:
    """The book; ``E`` (output time) and ``T`` (transaction time) are both the venue's now."""
    return {
        "lastUpdateId": now_ms,
        "E": now_ms,
        "T": now_ms,
        "bids": [[price(info, level.price), quantity(info, level.quantity)] for level in bids],
        "asks": [[price(info, level.price), quantity(info, level.quantity)] for level in asks],
    }


def premium_index(
    symbol: str, mark: Decimal, index: Decimal, funding_rate: Decimal, next_funding_time: int, now_ms: int
) -> dict[str, Any]:
    """Mark price and funding; the venue has no separate index, so the last price serves as index and settle."""
    return {
        "symbol": symbol,
        "markPrice": amount(mark),
        "indexPrice": amount(index),
        "estimatedSettlePrice": amount(index),
        "lastFundingRate": amount(funding_rate),
        "interestRate": INTEREST_RATE,
        "nextFundingTime": next_funding_time,
        "time": now_ms,
    }


def funding_rate_row(symbol: str, rate: Decimal, funding_time: int, mark: Decimal) -> dict[str, Any]:
    return {"symbol": symbol, "fundingRate": amount(rate), "fundingTime": funding_time, "markPrice": amount(mark)}


# Orders ---------------------------------------------------------------------------------------------------


def order(
    info: SymbolInfo,
    placed: FuturesOrder,
    *,
    query: bool = False,
    stp_mode: str = DEFAULT_STP_MODE,
    price_protect: bool = False,
) -> dict[str, Any]:
    """FO: the RESULT and DELETE answers (with ``cumQty``), or a query's view (with ``time``, no ``cumQty``)."""
    fields: dict[str, Any] = {
        "orderId": placed.order_id,
        "symbol": placed.symbol,
        "status": placed.status,
        "clientOrderId": placed.client_order_id,
        "price": price(info, placed.price),
        "avgPrice": avg_price(info, placed.avg_price),
        "origQty": quantity(info, placed.orig_qty),
        "executedQty": quantity(info, placed.executed_qty),
    }
    if not query:
        fields["cumQty"] = quantity(info, placed.executed_qty)
    fields.update(
        {
            "cumQuote": quote(info, placed.cum_quote),
            "timeInForce": placed.time_in_force,
            "type": placed.type,
            "reduceOnly": placed.reduce_only,
            "closePosition": False,
            "side": placed.side,
            "positionSide": placed.position_side,
            "stopPrice": price(info, placed.stop_price),
            "workingType": placed.working_type,
            "priceProtect": price_protect,
            "origType": placed.orig_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": stp_mode,
            "goodTillDate": 0,
        }
    )
    if query:
        fields["time"] = placed.time
    fields["updateTime"] = placed.update_time
    return fields


def order_ack(info: SymbolInfo, placed: FuturesOrder, stp_mode: str, price_protect: bool) -> dict[str, Any]:
    """ACK reports the order as accepted, before any execution: NEW, nothing executed (python-binance's default)."""
    fields = order(info, placed, stp_mode=stp_mode, price_protect=price_protect)
    fields.update(
        status="NEW",
        avgPrice=price(info, Decimal(0)),
        executedQty="0",
        cumQty="0",
        cumQuote=quote(info, Decimal(0)),
        updateTime=placed.time,
    )
    return fields


def force_order(info: SymbolInfo, placed: FuturesOrder) -> dict[str, Any]:
    """A liquidation order as ``/fapi/v1/forceOrders`` lists it."""
    view = order(info, placed, query=True)
    keys = ("orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty",
            "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition", "side", "positionSide", "stopPrice",
            "workingType", "origType", "time", "updateTime")  # fmt: skip
    return {key: view[key] for key in keys}


def user_trade(info: SymbolInfo, trade: FuturesTrade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "side": trade.side,
        "price": price(info, trade.price),
        "qty": quantity(info, trade.qty),
        "realizedPnl": amount(trade.realized_pnl),
        "quoteQty": quote(info, trade.quote_qty),
        "commission": amount(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "positionSide": trade.position_side,
        "maker": trade.is_maker,
        "buyer": trade.is_buyer,
    }


# Algo (conditional) orders ------------------------------------------------------------------------------


def algo_status(placed: FuturesOrder) -> str:
    """A stop order as the algo service reports it: NEW until it triggers, then FINISHED."""
    if placed.triggered:
        return "FINISHED"
    if placed.is_open:
        return "NEW"
    return placed.status  # CANCELED or EXPIRED before triggering


def algo_order(
    info: SymbolInfo,
    placed: FuturesOrder,
    *,
    query: bool = True,
    stp_mode: str = DEFAULT_STP_MODE,
    price_protect: bool = False,
) -> dict[str, Any]:
    """The algo order of a stop: its answer when placed, or the query view (actual order, TP/SL fields).

    ``algoId`` is the venue's order id; once triggered, the stop executes as that same order, so
    ``actualOrderId`` is the same id (as a string, as Binance sends it).
    """
    zero_price = price(info, Decimal(0))
    fields: dict[str, Any] = {
        "algoId": placed.order_id,
        "clientAlgoId": placed.client_order_id,
        "algoType": CONDITIONAL,
        "orderType": placed.type,
        "symbol": placed.symbol,
        "side": placed.side,
        "positionSide": placed.position_side,
        "timeInForce": placed.time_in_force,
        "quantity": quantity(info, placed.orig_qty),
        "algoStatus": algo_status(placed),
    }
    if query:
        fields["actualOrderId"] = str(placed.order_id) if placed.triggered else ""
        fields["actualPrice"] = avg_price(info, placed.avg_price)
    fields.update(
        {"triggerPrice": price(info, placed.stop_price), "price": price(info, placed.price), "icebergQuantity": None}
    )
    if query:
        fields.update(tpTriggerPrice=zero_price, tpPrice=zero_price, slTriggerPrice=zero_price, slPrice=zero_price,
                      tpOrderType="")  # fmt: skip
    fields.update(
        {
            "selfTradePreventionMode": stp_mode,
            "workingType": placed.working_type,
            "priceMatch": "NONE",
            "closePosition": False,
            "priceProtect": price_protect,
            "reduceOnly": placed.reduce_only,
        }
    )
    if not query:
        fields.update(activatePrice="", callbackRate="")
    fields.update(
        createTime=placed.time,
        updateTime=placed.update_time,
        triggerTime=placed.update_time if placed.triggered else 0,
        goodTillDate=0,
    )
    return fields


def algo_canceled(placed: FuturesOrder) -> dict[str, Any]:
    return {"algoId": placed.order_id, "clientAlgoId": placed.client_order_id, "code": "200", "msg": "success"}
