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
number the window's trades from 0 (no public trade tape).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from tradesim.domain.market import BookLevel, Candle, Ticker24h
from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim.futures_orders import FuturesOrder, FuturesTrade, IncomeRecord
from tradesim.exchange_sim.futures_risk import AccountSummary, PositionRisk
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
_ALIAS_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

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


# Account --------------------------------------------------------------------------------------------------


def account_alias(account_id: str) -> str:
    """A stable four-letter account code (sha256, so it is the same in every process)."""
    digest = hashlib.sha256(f"tradesim.alias/{account_id}".encode()).digest()
    return "".join(_ALIAS_LETTERS[byte % len(_ALIAS_LETTERS)] for byte in digest[:4])


def leverage_answer(symbol: str, leverage: int, max_notional: Decimal) -> dict[str, Any]:
    return {"leverage": leverage, "maxNotionalValue": format_decimal(max_notional), "symbol": symbol}


def position_margin_answer(moved: Decimal, kind: int) -> dict[str, Any]:
    """Binance sends the amount as a JSON number here."""
    return {"amount": float(moved), "code": 200, "msg": "Successfully modify position margin.", "type": kind}


# Account and position rows are tables: (wire key, attribute, kind). Kinds: a figure, a quantity of the
# symbol, the value as it is (texts, ints, bools), a string of an int (v2 leverage), a plain decimal string,
# the margin type in v2's lower case, or a constant of Binance's that the venue does not vary.
Field = tuple[str, str, str]
_FIGURE, _QTY, _AS_IS, _INT_TEXT, _PLAIN, _MARGIN_TYPE, _CONSTANT = (
    "figure", "quantity", "as-is", "int-text", "plain", "margin-type", "constant"
)  # fmt: skip
_CONSTANTS: dict[str, Any] = {"marginAvailable": True, "isAutoAddMargin": "false"}
_MARGIN_FIELDS: tuple[Field, ...] = (
    ("crossWalletBalance", "cross_wallet_balance", _FIGURE), ("crossUnPnl", "cross_unpnl", _FIGURE),
    ("availableBalance", "available_balance", _FIGURE), ("maxWithdrawAmount", "max_withdraw_amount", _FIGURE),
)  # fmt: skip
_BALANCE: tuple[Field, ...] = (
    ("asset", "asset", _AS_IS), ("balance", "wallet_balance", _FIGURE), *_MARGIN_FIELDS,
    ("marginAvailable", "", _CONSTANT), ("updateTime", "update_time", _AS_IS),
)  # fmt: skip
_TOTALS: tuple[Field, ...] = tuple(
    (key, attribute, _FIGURE)
    for key, attribute in (
        ("totalInitialMargin", "initial_margin"), ("totalMaintMargin", "maint_margin"),
        ("totalWalletBalance", "wallet_balance"), ("totalUnrealizedProfit", "unrealized_profit"),
        ("totalMarginBalance", "margin_balance"), ("totalPositionInitialMargin", "position_initial_margin"),
        ("totalOpenOrderInitialMargin", "open_order_initial_margin"),
        ("totalCrossWalletBalance", "cross_wallet_balance"), ("totalCrossUnPnl", "cross_unpnl"),
        ("availableBalance", "available_balance"), ("maxWithdrawAmount", "max_withdraw_amount"),
    )
)  # fmt: skip
_ASSET: tuple[Field, ...] = (
    ("asset", "asset", _AS_IS), ("walletBalance", "wallet_balance", _FIGURE),
    ("unrealizedProfit", "unrealized_profit", _FIGURE), ("marginBalance", "margin_balance", _FIGURE),
    ("maintMargin", "maint_margin", _FIGURE), ("initialMargin", "initial_margin", _FIGURE),
    ("positionInitialMargin", "position_initial_margin", _FIGURE),
    ("openOrderInitialMargin", "open_order_initial_margin", _FIGURE), *_MARGIN_FIELDS,
)  # fmt: skip
_ASSET_V3 = (*_ASSET, ("updateTime", "update_time", _AS_IS))
_ASSET_V2 = (*_ASSET, ("marginAvailable", "", _CONSTANT), ("updateTime", "update_time", _AS_IS))
_SYMBOL: Field = ("symbol", "symbol", _AS_IS)
_SIDE: Field = ("positionSide", "position_side", _AS_IS)
_AMOUNT: Field = ("positionAmt", "position_amt", _QTY)
_UPDATED: Field = ("updateTime", "update_time", _AS_IS)
_ENTRY: tuple[Field, ...] = (("entryPrice", "entry_price", _FIGURE), ("breakEvenPrice", "break_even_price", _FIGURE))
_PRICES: tuple[Field, ...] = (
    *_ENTRY, ("markPrice", "mark_price", _FIGURE), ("unRealizedProfit", "unrealized_profit", _FIGURE),
    ("liquidationPrice", "liquidation_price", _FIGURE),
)  # fmt: skip
_MARGINS: tuple[Field, ...] = (("initialMargin", "initial_margin", _FIGURE), ("maintMargin", "maint_margin", _FIGURE))
_ISOLATED: tuple[Field, ...] = (
    ("isolatedMargin", "isolated_margin", _FIGURE), ("notional", "notional", _FIGURE),
)  # fmt: skip
_ORDER_MARGINS: tuple[Field, ...] = (
    ("positionInitialMargin", "position_initial_margin", _FIGURE),
    ("openOrderInitialMargin", "open_order_initial_margin", _FIGURE),
)  # fmt: skip
_BOOK: tuple[Field, ...] = (("bidNotional", "bid_notional", _FIGURE), ("askNotional", "ask_notional", _FIGURE))
_LEVERAGE: Field = ("leverage", "leverage", _INT_TEXT)
_ACCOUNT_V3_POSITION: tuple[Field, ...] = (
    _SYMBOL, _SIDE, _AMOUNT, ("unrealizedProfit", "unrealized_profit", _FIGURE), *_ISOLATED,
    ("isolatedWallet", "isolated_wallet", _FIGURE), *_MARGINS, _UPDATED,
)  # fmt: skip
_ACCOUNT_V2_POSITION: tuple[Field, ...] = (
    _SYMBOL, *_MARGINS, ("unrealizedProfit", "unrealized_profit", _FIGURE), *_ORDER_MARGINS, _LEVERAGE,
    ("isolated", "isolated", _AS_IS), *_ENTRY, ("maxNotional", "max_notional_value", _PLAIN), *_BOOK, _SIDE,
    _AMOUNT, _UPDATED,
)  # fmt: skip
_RISK_V3: tuple[Field, ...] = (
    _SYMBOL, _SIDE, _AMOUNT, *_PRICES, *_ISOLATED, ("marginAsset", "margin_asset", _AS_IS),
    ("isolatedWallet", "isolated_wallet", _FIGURE), *_MARGINS, *_ORDER_MARGINS, ("adl", "adl", _AS_IS), *_BOOK,
    _UPDATED,
)  # fmt: skip
_RISK_V2: tuple[Field, ...] = (
    _SYMBOL, _AMOUNT, *_PRICES, _LEVERAGE, ("maxNotionalValue", "max_notional_value", _PLAIN),
    ("marginType", "margin_type", _MARGIN_TYPE), ("isolatedMargin", "isolated_margin", _FIGURE),
    ("isAutoAddMargin", "", _CONSTANT), _SIDE, ("notional", "notional", _FIGURE),
    ("isolatedWallet", "isolated_wallet", _FIGURE), _UPDATED,
)  # fmt: skip


def _row(fields: Sequence[Field], record: object, info: SymbolInfo | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, attribute, kind in fields:
        value = _CONSTANTS[key] if kind == _CONSTANT else getattr(record, attribute)
        if kind == _FIGURE:
            value = figure(value)
        elif kind == _QTY:
            assert info is not None, f"{key} needs the symbol's precision"
            value = quantity(info, value)
        elif kind == _INT_TEXT:
            value = str(value)
        elif kind == _PLAIN:
            value = format_decimal(value)
        elif kind == _MARGIN_TYPE:
            value = "isolated" if value == "ISOLATED" else "cross"
        row[key] = value
    return row


def balance(account_id: str, summary: AccountSummary) -> list[dict[str, Any]]:
    return [{"accountAlias": account_alias(account_id), **_row(_BALANCE, summary)}]


def account_v3(
    summary: AccountSummary, rows: Iterable[PositionRisk], infos: Mapping[str, SymbolInfo]
) -> dict[str, Any]:
    """``/fapi/v3/account``: totals, the USDT asset, the positions of symbols with a position or open orders."""
    positions = [_row(_ACCOUNT_V3_POSITION, row, infos[row.symbol]) for row in rows]
    return {**_row(_TOTALS, summary), "assets": [_row(_ASSET_V3, summary)], "positions": positions}


def account_v2(
    summary: AccountSummary, rows: Iterable[PositionRisk], infos: Mapping[str, SymbolInfo]
) -> dict[str, Any]:
    """``/fapi/v2/account``: v3's figures, the account flags, and every listed symbol's position and settings."""
    positions = [_row(_ACCOUNT_V2_POSITION, row, infos[row.symbol]) for row in rows]
    flags = {"feeTier": 0, "feeBurn": True, "canTrade": True, "canDeposit": True, "canWithdraw": True,
             "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1}  # fmt: skip
    return {**flags, **_row(_TOTALS, summary), "assets": [_row(_ASSET_V2, summary)], "positions": positions}


def position_risk_v3(info: SymbolInfo, row: PositionRisk) -> dict[str, Any]:
    return _row(_RISK_V3, row, info)


def position_risk_v2(info: SymbolInfo, row: PositionRisk) -> dict[str, Any]:
    """v2 adds leverage and settings as Binance writes them there: strings, margin type in lower case."""
    return _row(_RISK_V2, row, info)


def income_row(record: IncomeRecord) -> dict[str, Any]:
    return {
        "symbol": record.symbol,
        "incomeType": record.income_type,
        "income": amount(record.income),
        "asset": record.asset,
        "info": record.info,
        "time": record.time,
        "tranId": record.tran_id,
        "tradeId": "" if record.trade_id is None else str(record.trade_id),
    }
