"""Binance spot JSON shapes (binance-api-subset.md §3): venue records in, dicts of strings, ints and bools out.

Numbers follow Binance's spot style: prices, quantities and balances are strings
padded to 8 decimals (``"0.00100000"``), never in exponent form. The venue
never rounds an amount, so a value whose significant digits go past 8 decimals
(a commission of price x quantity x rate, say) is written in full rather than
cut; only trailing zeros past the 8th decimal are dropped.
Only derived statistics (the 24h change percent, the weighted average price)
are rounded, as Binance rounds them. Key order follows Binance's documented
examples, so bodies read like the real ones.

Choices where the venue keeps less than Binance shows:

- ``selfTradePreventionMode``: orders do not store it (an account cannot trade
  with itself here), so a new order's answer echoes the mode it was sent with
  and every later view reports the symbols' default ``EXPIRE_MAKER``;
- ``timeInForce`` of a MARKET order is ``GTC``, as Binance reports it;
- the 24h ticker's ``prevClosePrice`` is the window's open price, ``lastQty`` is
  0, and ``firstId``/``lastId`` number the window's trades from 0 (the venue
  keeps no public trade tape; -1 for both when nothing traded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from tradesim.domain.market import BookLevel, Candle, Ticker24h
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim.accounts import SpotAccount
from tradesim.exchange_sim.numbers import format_decimal, written_decimals
from tradesim.exchange_sim.ratelimit import RateLimit
from tradesim.exchange_sim.spot_orders import STOP_TYPES, SpotOrder, SpotTrade
from tradesim.exchange_sim.symbols import render_exchange_info_symbol

SPOT_PLACES = 8
DEFAULT_STP_MODE = "EXPIRE_MAKER"
ORDER_LIST_NONE = -1
_PERCENT = Decimal("0.001")
_PRICE = Decimal("0.00000001")
_UID_RANGE = 10**9
_EXACT = Context(prec=120)


def amount(value: Decimal) -> str:
    """A spot price, quantity or balance: 8 decimals, or as many more as the value's significant digits need."""
    if written_decimals(value) > SPOT_PLACES:
        value = value.normalize(_EXACT)  # drop trailing zeros only; the value is unchanged
    return format_decimal(value, SPOT_PLACES)


def exchange_info(symbols: Iterable[SymbolInfo], rate_limits: Sequence[RateLimit], server_time: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [limit.to_json() for limit in rate_limits],
        "exchangeFilters": [],
        "symbols": [render_exchange_info_symbol(info) for info in symbols],
    }


def kline_row(candle: Candle) -> list[Any]:
    """The 12 columns of a kline; the last is Binance's unused field, always ``"0"``."""
    return [
        candle.open_time,
        amount(candle.open),
        amount(candle.high),
        amount(candle.low),
        amount(candle.close),
        amount(candle.volume),
        candle.close_time,
        amount(candle.quote_volume),
        candle.trades,
        amount(candle.taker_buy_base),
        amount(candle.taker_buy_quote),
        "0",
    ]


def ticker_price(symbol: str, price: Decimal) -> dict[str, Any]:
    return {"symbol": symbol, "price": amount(price)}


def ticker_24h(ticker: Ticker24h, best_bid: BookLevel, best_ask: BookLevel, full: bool) -> dict[str, Any]:
    """``type=FULL`` (the default) or ``MINI``, which leaves out changes, averages and the book."""
    first_id, last_id = (0, ticker.trades - 1) if ticker.trades else (-1, -1)
    prices = {
        "openPrice": amount(ticker.open_price),
        "highPrice": amount(ticker.high_price),
        "lowPrice": amount(ticker.low_price),
    }
    tail = {
        "volume": amount(ticker.volume),
        "quoteVolume": amount(ticker.quote_volume),
        "openTime": ticker.open_time,
        "closeTime": ticker.close_time,
        "firstId": first_id,
        "lastId": last_id,
        "count": ticker.trades,
    }
    if not full:
        return {"symbol": ticker.symbol, **prices, "lastPrice": amount(ticker.last_price), **tail}
    weighted = ticker.quote_volume / ticker.volume if ticker.volume else Decimal(0)
    return {
        "symbol": ticker.symbol,
        "priceChange": amount(ticker.price_change),
        "priceChangePercent": format_decimal(ticker.price_change_percent.quantize(_PERCENT, ROUND_HALF_EVEN)),
        "weightedAvgPrice": amount(weighted.quantize(_PRICE, ROUND_HALF_EVEN)),
        "prevClosePrice": amount(ticker.open_price),
        "lastPrice": amount(ticker.last_price),
        "lastQty": amount(Decimal(0)),
        "bidPrice": amount(best_bid.price),
        "bidQty": amount(best_bid.quantity),
        "askPrice": amount(best_ask.price),
        "askQty": amount(best_ask.quantity),
        **prices,
        **tail,
    }


def depth(last_update_id: int, bids: Iterable[BookLevel], asks: Iterable[BookLevel]) -> dict[str, Any]:
    return {
        "lastUpdateId": last_update_id,
        "bids": [[amount(level.price), amount(level.quantity)] for level in bids],
        "asks": [[amount(level.price), amount(level.quantity)] for level in asks],
    }


def avg_price(minutes: int, price: Decimal, close_time: int) -> dict[str, Any]:
    return {"mins": minutes, "price": amount(price), "closeTime": close_time}


# Orders ---------------------------------------------------------------------------------------------------


def _time_in_force(order: SpotOrder) -> str:
    return order.time_in_force or "GTC"


def order_ack(order: SpotOrder) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": ORDER_LIST_NONE,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }


def order_result(order: SpotOrder, stp_mode: str) -> dict[str, Any]:
    """The RESULT answer of a new order; stop orders add ``stopPrice``, as Binance's conditional fields do."""
    result = {
        **order_ack(order),
        "price": amount(order.price),
        "origQty": amount(order.orig_qty),
        "executedQty": amount(order.executed_qty),
        "origQuoteOrderQty": amount(order.orig_quote_order_qty),
        "cummulativeQuoteQty": amount(order.cummulative_quote_qty),
        "status": order.status,
        "timeInForce": _time_in_force(order),
        "type": order.type,
        "side": order.side,
    }
    if order.type in STOP_TYPES:
        result["stopPrice"] = amount(order.stop_price)
    result["workingTime"] = order.working_time
    result["selfTradePreventionMode"] = stp_mode
    return result


def order_full(order: SpotOrder, stp_mode: str, fills: Iterable[SpotTrade]) -> dict[str, Any]:
    """RESULT plus the fills that happened on placement."""
    return {**order_result(order, stp_mode), "fills": [fill(trade) for trade in fills]}


def fill(trade: SpotTrade) -> dict[str, Any]:
    return {
        "price": amount(trade.price),
        "qty": amount(trade.qty),
        "commission": amount(trade.commission),
        "commissionAsset": trade.commission_asset,
        "tradeId": trade.trade_id,
    }


def order_query(order: SpotOrder) -> dict[str, Any]:
    """An order as GET order, openOrders and allOrders show it."""
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": ORDER_LIST_NONE,
        "clientOrderId": order.client_order_id,
        "price": amount(order.price),
        "origQty": amount(order.orig_qty),
        "executedQty": amount(order.executed_qty),
        "cummulativeQuoteQty": amount(order.cummulative_quote_qty),
        "status": order.status,
        "timeInForce": _time_in_force(order),
        "type": order.type,
        "side": order.side,
        "stopPrice": amount(order.stop_price),
        "icebergQty": amount(Decimal(0)),
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": order.is_working,
        "workingTime": order.working_time,
        "origQuoteOrderQty": amount(order.orig_quote_order_qty),
        "selfTradePreventionMode": DEFAULT_STP_MODE,
    }


def order_canceled(order: SpotOrder, cancel_client_order_id: str, transact_time: int) -> dict[str, Any]:
    """The DELETE answer: the order's id is ``origClientOrderId``, the cancel's own id ``clientOrderId``."""
    result = {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "orderListId": ORDER_LIST_NONE,
        "clientOrderId": cancel_client_order_id,
        "transactTime": transact_time,
        "price": amount(order.price),
        "origQty": amount(order.orig_qty),
        "executedQty": amount(order.executed_qty),
        "origQuoteOrderQty": amount(order.orig_quote_order_qty),
        "cummulativeQuoteQty": amount(order.cummulative_quote_qty),
        "status": order.status,
        "timeInForce": _time_in_force(order),
        "type": order.type,
        "side": order.side,
    }
    if order.type in STOP_TYPES:
        result["stopPrice"] = amount(order.stop_price)
    result["selfTradePreventionMode"] = DEFAULT_STP_MODE
    return result


def my_trade(trade: SpotTrade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": ORDER_LIST_NONE,
        "price": amount(trade.price),
        "qty": amount(trade.qty),
        "quoteQty": amount(trade.quote_qty),
        "commission": amount(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.is_buyer,
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }


# Account --------------------------------------------------------------------------------------------------


def account_uid(account_id: str) -> int:
    """A stable numeric uid for an account name (sha256, so it is the same in every process)."""
    digest = hashlib.sha256(f"tradesim.uid/{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _UID_RANGE


def account(spot_account: SpotAccount, omit_zero_balances: bool) -> dict[str, Any]:
    """GET /api/v3/account; commissions in basis points as ints and as rate strings, balances by asset name."""
    maker, taker = spot_account.commission.maker, spot_account.commission.taker
    balances = [
        {"asset": asset, "free": amount(held.free), "locked": amount(held.locked)}
        for asset, held in sorted(spot_account.balances.items())
        if not (omit_zero_balances and held.total == 0)
    ]
    return {
        "makerCommission": int(maker * 10_000),
        "takerCommission": int(taker * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": amount(maker),
            "taker": amount(taker),
            "buyer": amount(Decimal(0)),
            "seller": amount(Decimal(0)),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": spot_account.update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": account_uid(spot_account.account_id),
    }


def order_test_commissions(spot_account: SpotAccount) -> dict[str, Any]:
    """POST order/test with ``computeCommissionRates=true``: the account's rates, no special or tax rates."""
    zero = amount(Decimal(0))
    rates = spot_account.commission
    return {
        "standardCommissionForOrder": {"maker": amount(rates.maker), "taker": amount(rates.taker)},
        "specialCommissionForOrder": {"maker": zero, "taker": zero},
        "taxCommissionForOrder": {"maker": zero, "taker": zero},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB", "discount": zero},
    }
