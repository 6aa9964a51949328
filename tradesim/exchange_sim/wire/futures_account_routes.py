"""The USD-M settings and account endpoints: leverage, position mode, margin, brackets, balances, positions, income."""

from __future__ import annotations

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.symbols import render_leverage_brackets
from tradesim.exchange_sim.wire import futures_account_render as render
from tradesim.exchange_sim.wire.futures_render import DONE
from tradesim.exchange_sim.wire.futures_routes import futures_engine, listed_symbols, optional_symbol, symbol_info
from tradesim.exchange_sim.wire.routing import FUTURES, Call
from tradesim.exchange_sim.wire.spot_routes import limit_param, symbol_param, time_range

INCOME_DEFAULT_LIMIT = 100

# Settings ------------------------------------------------------------------------------------------------


@FUTURES.add("POST", "/fapi/v1/leverage", "TRADE")
def set_leverage(call: Call) -> object:
    symbol = symbol_param(call)
    call.text("leverage")
    leverage = call.integer("leverage")
    assert leverage is not None  # call.text refused a missing one
    answer = futures_engine(call).set_leverage(call.account, symbol, leverage, call.now_ms)
    return render.leverage_answer(answer.symbol, answer.leverage, answer.max_notional_value)


@FUTURES.add("GET", "/fapi/v1/positionSide/dual", "USER_DATA")
def position_mode(call: Call) -> object:
    return {"dualSidePosition": futures_engine(call).position_mode(call.account)}


@FUTURES.add("POST", "/fapi/v1/positionSide/dual", "TRADE")
def set_position_mode(call: Call) -> object:
    call.text("dualSidePosition")
    futures_engine(call).set_position_mode(call.account, call.boolean("dualSidePosition"), call.now_ms)
    return DONE


@FUTURES.add("POST", "/fapi/v1/marginType", "TRADE")
def set_margin_type(call: Call) -> object:
    symbol = symbol_param(call)
    futures_engine(call).set_margin_type(call.account, symbol, call.text("marginType"), call.now_ms)
    return DONE


@FUTURES.add("POST", "/fapi/v1/positionMargin", "TRADE")
def modify_position_margin(call: Call) -> object:
    """Add (``type=1``) or remove (``type=2``) margin of an isolated one-way position."""
    symbol = symbol_param(call)
    call.text("amount")
    amount = call.decimal("amount")
    call.text("type")
    kind = call.integer("type")
    if kind not in (1, 2):
        raise VenueError(-1130, "Data sent for parameter 'type' is not valid.")
    side = call.optional("positionSide")
    if side in ("LONG", "SHORT"):
        raise errors.position_side_mismatch()
    if side not in (None, "BOTH"):
        raise VenueError(-4060, "Invalid position side.")
    assert amount is not None  # call.text refused a missing one
    moved = futures_engine(call).modify_isolated_margin(call.account, symbol, amount, kind == 1, call.now_ms)
    return render.position_margin_answer(moved, kind)


@FUTURES.add("GET", "/fapi/v1/leverageBracket", "USER_DATA")
def leverage_brackets(call: Call) -> object:
    """One object when ``symbol`` is sent, else a list of every symbol's, as Binance answers."""
    infos, many = listed_symbols(call)
    rows = [render_leverage_brackets(info) for info in infos]
    return rows if many else rows[0]


# Account -------------------------------------------------------------------------------------------------


def _balance(call: Call) -> object:
    return render.balance(call.account, futures_engine(call).account_summary(call.account, call.now_ms))


FUTURES.add("GET", "/fapi/v2/balance", "USER_DATA")(_balance)
FUTURES.add("GET", "/fapi/v3/balance", "USER_DATA")(_balance)


@FUTURES.add("GET", "/fapi/v3/account", "USER_DATA")
def account_v3(call: Call) -> object:
    engine = futures_engine(call)
    summary = engine.account_summary(call.account, call.now_ms)
    return render.account_v3(summary, engine.position_risk(call.account, call.now_ms), engine.symbols)


@FUTURES.add("GET", "/fapi/v2/account", "USER_DATA")
def account_v2(call: Call) -> object:
    engine = futures_engine(call)
    summary = engine.account_summary(call.account, call.now_ms)
    rows = engine.position_risk(call.account, call.now_ms, include_flat=True)
    return render.account_v2(summary, rows, engine.symbols)


@FUTURES.add("GET", "/fapi/v3/positionRisk", "USER_DATA")
def position_risk_v3(call: Call) -> object:
    engine = futures_engine(call)
    rows = engine.position_risk(call.account, call.now_ms, optional_symbol(call))
    return [render.position_risk_v3(engine.symbol(row.symbol), row) for row in rows]


@FUTURES.add("GET", "/fapi/v2/positionRisk", "USER_DATA")
def position_risk_v2(call: Call) -> object:
    engine = futures_engine(call)
    rows = engine.position_risk(call.account, call.now_ms, optional_symbol(call), include_flat=True)
    return [render.position_risk_v2(engine.symbol(row.symbol), row) for row in rows]


@FUTURES.add("GET", "/fapi/v1/income", "USER_DATA")
def income(call: Call) -> object:
    symbol = optional_symbol(call)
    if symbol is not None:
        symbol_info(call, symbol)
    start, end = time_range(call)
    rows = futures_engine(call).income_history(
        call.account,
        call.now_ms,
        symbol=symbol,
        income_type=call.optional("incomeType"),
        start_time=start,
        end_time=end,
        limit=limit_param(call, INCOME_DEFAULT_LIMIT, 1000),
    )
    return [render.income_row(record) for record in rows]
