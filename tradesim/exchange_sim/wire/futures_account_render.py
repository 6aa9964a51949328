"""Binance USD-M futures account JSON: balances, account and position rows, settings answers and income."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradesim.domain.symbols import SymbolInfo
from tradesim.exchange_sim.futures_orders import IncomeRecord
from tradesim.exchange_sim.futures_risk import AccountSummary, PositionRisk
from tradesim.exchange_sim.numbers import format_decimal
from tradesim.exchange_sim.wire.futures_render import figure, quantity
from tradesim.exchange_sim.wire.spot_render import amount

_ALIAS_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


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
