"""USD-M futures account over the wire: a signed round trip, balances, account, positionRisk, income, settings."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.exchange_sim.wire.test_app import WireClient, assert_error, ok
from tests.exchange_sim.wire.test_futures_routes import FIGURE, futures_venue, is_int, last_price, matches, place
from tradesim.exchange_sim.venue import Venue

BALANCE_KEYS = ["accountAlias", "asset", "balance", "crossWalletBalance", "crossUnPnl", "availableBalance",
                "maxWithdrawAmount", "marginAvailable", "updateTime"]  # fmt: skip
TOTAL_KEYS = [
    "totalInitialMargin", "totalMaintMargin", "totalWalletBalance", "totalUnrealizedProfit", "totalMarginBalance",
    "totalPositionInitialMargin", "totalOpenOrderInitialMargin", "totalCrossWalletBalance", "totalCrossUnPnl",
    "availableBalance", "maxWithdrawAmount",
]  # fmt: skip
ASSET_KEYS = [
    "asset", "walletBalance", "unrealizedProfit", "marginBalance", "maintMargin", "initialMargin",
    "positionInitialMargin", "openOrderInitialMargin", "crossWalletBalance", "crossUnPnl", "availableBalance",
    "maxWithdrawAmount", "updateTime",
]  # fmt: skip
V3_POSITION_KEYS = ["symbol", "positionSide", "positionAmt", "unrealizedProfit", "isolatedMargin", "notional",
                    "isolatedWallet", "initialMargin", "maintMargin", "updateTime"]  # fmt: skip
V2_POSITION_KEYS = [
    "symbol", "initialMargin", "maintMargin", "unrealizedProfit", "positionInitialMargin", "openOrderInitialMargin",
    "leverage", "isolated", "entryPrice", "breakEvenPrice", "maxNotional", "bidNotional", "askNotional",
    "positionSide", "positionAmt", "updateTime",
]  # fmt: skip
RISK_V3_KEYS = [
    "symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit",
    "liquidationPrice", "isolatedMargin", "notional", "marginAsset", "isolatedWallet", "initialMargin", "maintMargin",
    "positionInitialMargin", "openOrderInitialMargin", "adl", "bidNotional", "askNotional", "updateTime",
]  # fmt: skip
RISK_V2_KEYS = [
    "symbol", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit", "liquidationPrice",
    "leverage", "maxNotionalValue", "marginType", "isolatedMargin", "isAutoAddMargin", "positionSide", "notional",
    "isolatedWallet", "updateTime",
]  # fmt: skip
INCOME_KEYS = ["symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"]


@pytest.fixture
def venue() -> Venue:
    return futures_venue(wallet="300")


@pytest.fixture
def client(venue: Venue) -> Iterator[WireClient]:
    wire = WireClient(venue)
    yield wire
    wire.session.close()


def figures_only(row: dict[str, Any], *skip: str) -> bool:
    return all(matches(FIGURE, value) for key, value in row.items() if isinstance(value, str) and key not in skip)


# The round trip -----------------------------------------------------------------------------------------


def test_signed_round_trip_leverage_position_risk_close_and_income(client: WireClient, venue: Venue) -> None:
    leverage = ok(client.signed("POST", "/fapi/v1/leverage", in_body=True, symbol="BTCUSDT", leverage=20))
    assert leverage == {"leverage": 20, "maxNotionalValue": "50000000", "symbol": "BTCUSDT"}
    opened = ok(place(client, side="BUY", type="MARKET", quantity="0.010", newOrderRespType="RESULT"))
    client.advance(minutes=7)

    (risk,) = ok(client.signed("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT"))
    premium = ok(client.get("/fapi/v1/premiumIndex", symbol="BTCUSDT"))
    assert list(risk) == RISK_V3_KEYS
    assert figures_only(risk, "symbol", "positionSide", "positionAmt", "marginAsset")
    entry, mark = Decimal(risk["entryPrice"]), Decimal(risk["markPrice"])
    assert (risk["positionAmt"], entry) == ("0.010", Decimal(opened["avgPrice"]))
    assert mark == Decimal(premium["markPrice"])
    assert Decimal(risk["unRealizedProfit"]) == (mark - entry) * Decimal("0.010")
    assert Decimal(risk["notional"]) == mark * Decimal("0.010")
    assert Decimal(risk["initialMargin"]) == (mark * Decimal("0.010") / 20).quantize(Decimal("1e-8"))
    assert 0 < Decimal(risk["liquidationPrice"]) < entry  # a long on a 300 USDT wallet can be liquidated
    assert (risk["adl"], risk["marginAsset"], risk["isolatedWallet"]) == (0, "USDT", "0.00000000")

    closed = ok(place(client, side="SELL", type="MARKET", quantity="0.010", reduceOnly="true",
                      newOrderRespType="RESULT"))  # fmt: skip
    assert (closed["status"], closed["reduceOnly"], closed["executedQty"]) == ("FILLED", True, "0.010")
    assert ok(client.signed("GET", "/fapi/v3/positionRisk")) == []

    rows = ok(client.signed("GET", "/fapi/v1/income"))
    assert all(list(row) == INCOME_KEYS for row in rows)
    assert [row["incomeType"] for row in rows] == ["TRANSFER", "COMMISSION", "REALIZED_PNL", "COMMISSION"]
    assert [row["tranId"] for row in rows] == [1, 2, 3, 4]
    assert [row["tradeId"] for row in rows] == ["", "1", "2", "2"]
    realized = (Decimal(closed["avgPrice"]) - entry) * Decimal("0.010")
    assert Decimal(rows[2]["income"]) == realized
    commissions = [Decimal(row["income"]) for row in rows if row["incomeType"] == "COMMISSION"]
    assert commissions == [
        -Decimal(opened["cumQuote"]) * Decimal("0.0005"),
        -Decimal(closed["cumQuote"]) * Decimal("0.0005"),
    ]
    (balance,) = ok(client.signed("GET", "/fapi/v3/balance"))
    assert Decimal(balance["balance"]) == sum(Decimal(row["income"]) for row in rows)
    assert Decimal(balance["balance"]) == Decimal(300) + realized + sum(commissions)
    only_fees = ok(client.signed("GET", "/fapi/v1/income", incomeType="COMMISSION", limit=1))
    assert [row["tranId"] for row in only_fees] == [4]


# Balances and account ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/fapi/v2/balance", "/fapi/v3/balance"])
def test_balance_lists_the_usdt_wallet(client: WireClient, venue: Venue, path: str) -> None:
    (row,) = ok(client.signed("GET", path))

    assert list(row) == BALANCE_KEYS
    assert (row["asset"], row["balance"], row["availableBalance"], row["crossUnPnl"]) == (
        "USDT", "300.00000000", "300.00000000", "0.00000000"
    )  # fmt: skip
    assert (row["marginAvailable"], row["updateTime"]) == (True, venue.now_ms())
    assert isinstance(row["accountAlias"], str)
    assert len(row["accountAlias"]) == 4


def test_account_v3_lists_totals_the_asset_and_only_busy_symbols(client: WireClient) -> None:
    flat = ok(client.signed("GET", "/fapi/v3/account"))
    ok(place(client, side="BUY", type="MARKET", quantity="0.002"))
    busy = ok(client.signed("GET", "/fapi/v3/account"))

    assert list(flat) == [*TOTAL_KEYS, "assets", "positions"]
    assert flat["positions"] == []
    assert [list(asset) for asset in flat["assets"]] == [ASSET_KEYS]
    assert figures_only(flat)
    assert flat["totalWalletBalance"] == "300.00000000"
    (position,) = busy["positions"]
    assert list(position) == V3_POSITION_KEYS
    assert (position["symbol"], position["positionAmt"], position["positionSide"]) == ("BTCUSDT", "0.002", "BOTH")
    assert Decimal(busy["totalPositionInitialMargin"]) == Decimal(position["initialMargin"]) > 0


def test_account_v2_adds_the_flags_and_every_symbols_settings(client: WireClient) -> None:
    ok(client.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=7))
    account = ok(client.signed("GET", "/fapi/v2/account"))

    assert list(account)[:8] == ["feeTier", "feeBurn", "canTrade", "canDeposit", "canWithdraw", "updateTime",
                                 "multiAssetsMargin", "tradeGroupId"]  # fmt: skip
    assert list(account)[8:] == [*TOTAL_KEYS, "assets", "positions"]
    assert (account["feeTier"], account["multiAssetsMargin"], account["tradeGroupId"]) == (0, False, -1)
    assert list(account["assets"][0]) == [*ASSET_KEYS[:-1], "marginAvailable", "updateTime"]
    (position,) = account["positions"]  # a flat symbol is listed too
    assert list(position) == V2_POSITION_KEYS
    assert (position["leverage"], position["isolated"], position["positionAmt"]) == ("7", False, "0.000")
    assert position["maxNotional"] == "80000000"


def test_position_risk_v2_lists_flat_symbols_with_their_settings(client: WireClient) -> None:
    (flat,) = ok(client.signed("GET", "/fapi/v2/positionRisk"))

    assert list(flat) == RISK_V2_KEYS
    assert (flat["leverage"], flat["marginType"], flat["isAutoAddMargin"], flat["maxNotionalValue"]) == (
        "20", "cross", "false", "50000000"
    )  # fmt: skip
    assert (flat["positionAmt"], flat["entryPrice"], flat["liquidationPrice"]) == ("0.000", "0.00000000", "0.00000000")
    assert ok(client.signed("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")) == []
    assert_error(client.signed("GET", "/fapi/v2/positionRisk", symbol="NOPEUSDT"), -1121, msg="Invalid symbol.")


# Settings ------------------------------------------------------------------------------------------------


def test_margin_type_and_isolated_margin(client: WireClient) -> None:
    changed = ok(client.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED"))
    ok(place(client, side="BUY", type="MARKET", quantity="0.010"))
    before = ok(client.signed("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT"))[0]
    added = ok(client.signed("POST", "/fapi/v1/positionMargin", symbol="BTCUSDT", amount="10", type=1))
    after = ok(client.signed("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT"))[0]

    assert changed == {"code": 200, "msg": "success"}
    assert added == {"amount": 10.0, "code": 200, "msg": "Successfully modify position margin.", "type": 1}
    assert before["marginType"] == after["marginType"] == "isolated"
    assert Decimal(after["isolatedWallet"]) - Decimal(before["isolatedWallet"]) == 10
    assert_error(client.signed("POST", "/fapi/v1/positionMargin", symbol="BTCUSDT", amount="10", type=3), -1130,
                 msg="Data sent for parameter 'type' is not valid.")  # fmt: skip
    assert_error(client.signed("POST", "/fapi/v1/positionMargin", symbol="BTCUSDT", amount="1", type=1,
                               positionSide="LONG"), -4061)  # fmt: skip


def test_position_mode_is_one_way(client: WireClient) -> None:
    assert ok(client.signed("GET", "/fapi/v1/positionSide/dual")) == {"dualSidePosition": False}
    assert_error(client.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="false"), -4059,
                 msg="No need to change position side.")  # fmt: skip
    assert_error(client.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="true"), -1020)
    assert_error(client.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="maybe"), -1100)


def test_leverage_brackets_are_json_numbers_one_object_per_symbol(client: WireClient) -> None:
    every = ok(client.signed("GET", "/fapi/v1/leverageBracket"))
    one = ok(client.signed("GET", "/fapi/v1/leverageBracket", symbol="BTCUSDT"))

    assert every == [one]
    assert list(one) == ["symbol", "notionalCoef", "brackets"]
    first = one["brackets"][0]
    assert list(first) == ["bracket", "initialLeverage", "notionalCap", "notionalFloor", "maintMarginRatio", "cum"]
    assert first == {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                     "maintMarginRatio": 0.004, "cum": 0}  # fmt: skip
    assert all(is_int(b["bracket"]) and is_int(b["initialLeverage"]) for b in one["brackets"])


def test_force_orders_list_the_liquidation_of_an_isolated_position(client: WireClient, venue: Venue) -> None:
    """At 125x isolated, a 0.6% move against the position liquidates it; the day ahead decides the side."""
    now = venue.now_ms()
    day = venue.futures_market.klines("BTCUSDT", "1h", now + 86_400_000, start_ms=now, limit=24)
    price = last_price(client)
    side = "BUY" if min(c.low for c in day) < price * Decimal("0.992") else "SELL"
    assert side == "BUY" or max(c.high for c in day) > price * Decimal("1.008")  # liquidation is ~0.4% away
    ok(client.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED"))
    ok(client.signed("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=125))
    ok(place(client, side=side, type="MARKET", quantity="0.010"))
    assert ok(client.signed("GET", "/fapi/v1/forceOrders")) == []

    client.advance(hours=24)

    (forced,) = ok(client.signed("GET", "/fapi/v1/forceOrders", symbol="BTCUSDT"))
    assert list(forced) == [
        "orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty", "cumQuote",
        "timeInForce", "type", "reduceOnly", "closePosition", "side", "positionSide", "stopPrice", "workingType",
        "origType", "time", "updateTime",
    ]  # fmt: skip
    assert forced["clientOrderId"].startswith("autoclose-")
    assert (forced["status"], forced["timeInForce"], forced["type"], forced["executedQty"]) == (
        "FILLED", "IOC", "LIMIT", "0.010"
    )  # fmt: skip
    assert forced["side"] != side
    assert ok(client.signed("GET", "/fapi/v1/forceOrders", autoCloseType="ADL")) == []
    assert ok(client.signed("GET", "/fapi/v3/positionRisk")) == []
