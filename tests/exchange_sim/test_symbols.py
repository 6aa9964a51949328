"""The listed symbols: a consistent default universe, and exchangeInfo snapshots read and written back."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tradesim.domain.enums import Market
from tradesim.domain.symbols import (
    LotSize,
    MarketLotSize,
    MaxNumOrders,
    MinNotional,
    Notional,
    PercentPrice,
    PercentPriceBySide,
    PriceFilter,
    SymbolInfo,
)
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.filters import check_futures_order, check_spot_order
from tradesim.exchange_sim.numbers import decimals_of, is_multiple_of
from tradesim.exchange_sim.symbols import (
    FUTURES_ORDER_TYPES,
    SPOT_ORDER_TYPES,
    SnapshotError,
    SymbolBook,
    brackets_from_ladder,
    default_universe,
    load_exchange_info,
    load_leverage_brackets,
    reference_price,
    render_exchange_info_symbol,
    render_leverage_brackets,
)

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures"
SPOT, FUTURES = default_universe()
ALL = [*SPOT, *FUTURES]
MODELLED_FILTERS = {
    "PRICE_FILTER",
    "LOT_SIZE",
    "MARKET_LOT_SIZE",
    "NOTIONAL",
    "MIN_NOTIONAL",
    "PERCENT_PRICE",
    "PERCENT_PRICE_BY_SIDE",
    "MAX_NUM_ORDERS",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ids(infos: list[SymbolInfo]) -> list[str]:
    return [f"{info.market}:{info.symbol}" for info in infos]


def the(info: SymbolInfo, kind: type[Any]) -> Any:
    found = info.get_filter(kind)
    assert found is not None, f"{info.symbol} has no {kind.__name__}"
    return found


# The default universe.


def test_the_universe_lists_at_least_60_usdt_pairs_per_market() -> None:
    assert len(SPOT) >= 60
    assert len(FUTURES) >= 60
    for infos, market in ((SPOT, Market.SPOT), (FUTURES, Market.FUTURES)):
        assert {info.market for info in infos} == {market}
        assert len({info.symbol for info in infos}) == len(infos)
        assert all(info.quote_asset == "USDT" and info.symbol == info.base_asset + "USDT" for info in infos)


def test_the_universe_holds_the_big_names_in_both_markets() -> None:
    for base in ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA"):
        assert base + "USDT" in {info.symbol for info in SPOT}
        assert base + "USDT" in {info.symbol for info in FUTURES}


def test_default_universe_returns_fresh_lists() -> None:
    spot, _ = default_universe()
    spot.clear()

    assert len(default_universe()[0]) == len(SPOT)


@pytest.mark.parametrize("info", ALL, ids=ids(ALL))
def test_reference_prices_sit_on_tick_inside_price_filter(info: SymbolInfo) -> None:
    price = reference_price(info.market, info.symbol)
    rule = the(info, PriceFilter)

    assert price > 0
    assert rule.min_price <= price <= rule.max_price
    assert is_multiple_of(price, rule.tick_size, rule.min_price if info.market is Market.FUTURES else D(0))
    assert decimals_of(price) <= info.price_precision


@pytest.mark.parametrize("info", ALL, ids=ids(ALL))
def test_every_symbols_filters_are_self_consistent(info: SymbolInfo) -> None:
    price, lot, market_lot = the(info, PriceFilter), the(info, LotSize), the(info, MarketLotSize)

    assert 0 < price.tick_size <= price.min_price < price.max_price
    assert is_multiple_of(price.min_price, price.tick_size)
    assert is_multiple_of(price.max_price - price.min_price, price.tick_size)
    assert 0 < lot.step_size <= lot.min_qty < lot.max_qty
    assert is_multiple_of(lot.max_qty - lot.min_qty, lot.step_size)
    assert market_lot.min_qty <= market_lot.max_qty <= lot.max_qty
    if market_lot.step_size:
        assert is_multiple_of(market_lot.max_qty - market_lot.min_qty, market_lot.step_size)
    assert is_multiple_of(market_lot.max_qty, lot.step_size)
    assert decimals_of(price.tick_size) <= info.price_precision
    assert decimals_of(lot.step_size) <= info.quantity_precision
    assert the(info, MaxNumOrders).max_num_orders == 200


@pytest.mark.parametrize("info", SPOT, ids=ids(SPOT))
def test_spot_symbols_carry_binance_spot_filters(info: SymbolInfo) -> None:
    assert the(info, Notional) == Notional(D(5), True, D(9000000), False, 5)
    assert the(info, PercentPriceBySide) == PercentPriceBySide(D(5), D("0.2"), D(5), D("0.2"), 5)
    assert the(info, MarketLotSize).step_size == 0
    assert info.order_types == SPOT_ORDER_TYPES
    assert {"LIMIT", "MARKET"} <= set(info.order_types)  # ccxt needs both
    assert (info.base_asset_precision, info.quote_asset_precision) == (8, 8)
    assert not info.brackets


@pytest.mark.parametrize("info", FUTURES, ids=ids(FUTURES))
def test_futures_symbols_carry_binance_futures_terms(info: SymbolInfo) -> None:
    expected_min = D(100) if info.symbol in ("BTCUSDT", "ETHUSDT") else D(5)

    assert the(info, MinNotional).min_notional == expected_min
    assert the(info, PercentPrice) == PercentPrice(D("1.0500"), D("0.9500"), 4)
    assert info.order_types == FUTURES_ORDER_TYPES
    assert (info.maint_margin_percent, info.required_margin_percent) == (D("2.5"), D(5))
    assert D("0.01") <= info.liquidation_fee <= D("0.02")
    assert D(0) < info.market_take_bound < D(1)


@pytest.mark.parametrize("info", FUTURES, ids=ids(FUTURES))
def test_brackets_are_contiguous_and_cum_keeps_maintenance_continuous(info: SymbolInfo) -> None:
    brackets = info.brackets

    assert brackets[0].notional_floor == 0
    assert brackets[0].cum == 0
    assert [bracket.bracket for bracket in brackets] == list(range(1, len(brackets) + 1))
    for lower, upper in pairwise(brackets):
        assert upper.notional_floor == lower.notional_cap
        assert upper.initial_leverage < lower.initial_leverage
        assert upper.maint_margin_ratio > lower.maint_margin_ratio
        floor = upper.notional_floor
        assert upper.cum == lower.cum + floor * (upper.maint_margin_ratio - lower.maint_margin_ratio)
        # The same maintenance margin from either bracket at their shared boundary.
        assert floor * lower.maint_margin_ratio - lower.cum == floor * upper.maint_margin_ratio - upper.cum
    assert brackets[-1].initial_leverage == 1


def test_btc_brackets_follow_binance() -> None:
    btc = next(info for info in FUTURES if info.symbol == "BTCUSDT")
    first, second, third = btc.brackets[:3]

    assert (first.initial_leverage, first.notional_cap, first.maint_margin_ratio, first.cum) == (
        125,
        D(50000),
        D("0.004"),
        D(0),
    )
    assert (second.initial_leverage, second.cum) == (100, D(50))
    assert (third.initial_leverage, third.cum) == (50, D(2550))


@pytest.mark.parametrize("info", ALL, ids=ids(ALL))
def test_a_minimal_order_at_the_reference_price_passes_every_check(info: SymbolInfo) -> None:
    """The universe must be tradable as listed: the smallest order meeting every minimum is accepted."""
    price = reference_price(info.market, info.symbol)
    lot = the(info, LotSize)
    minimum = the(info, Notional).min_notional if info.market is Market.SPOT else the(info, MinNotional).min_notional
    steps = ((minimum / price - lot.min_qty) / lot.step_size).to_integral_value(rounding=ROUND_CEILING)
    quantity = lot.min_qty + max(steps, D(0)) * lot.step_size

    if info.market is Market.SPOT:
        check_spot_order(
            info, side="BUY", order_type="LIMIT", quantity=quantity, price=price, avg_price=price, open_order_count=0
        )
    else:
        check_futures_order(
            info, side="BUY", order_type="LIMIT", quantity=quantity, price=price, mark_price=price, open_order_count=0
        )


def test_brackets_from_ladder_derives_floors_and_cum() -> None:
    brackets = brackets_from_ladder([(50, D(5000), D("0.01")), (25, D(25000), D("0.02")), (10, D(100000), D("0.05"))])

    assert [(b.notional_floor, b.notional_cap, b.cum) for b in brackets] == [
        (D(0), D(5000), D(0)),
        (D(5000), D(25000), D(50)),
        (D(25000), D(100000), D(800)),
    ]


def test_brackets_from_ladder_refuses_caps_that_do_not_rise() -> None:
    with pytest.raises(ValueError, match="ladder row 2: notionalCap 5000 must exceed the floor 5000"):
        brackets_from_ladder([(50, D(5000), D("0.01")), (25, D(5000), D("0.02"))])


# The symbol book.


def test_the_book_finds_symbols_by_market() -> None:
    book = SymbolBook.default()

    assert book.get(Market.SPOT, "BTCUSDT").market is Market.SPOT
    assert book.get(Market.FUTURES, "BTCUSDT").market is Market.FUTURES
    assert book.get(Market.FUTURES, "1000PEPEUSDT").base_asset == "1000PEPE"
    assert [info.symbol for info in book.symbols(Market.SPOT)] == [info.symbol for info in SPOT]
    assert book.reference_price(Market.SPOT, "BTCUSDT") == reference_price(Market.SPOT, "BTCUSDT")


@pytest.mark.parametrize(("market", "symbol"), [(Market.SPOT, "NOPEUSDT"), (Market.SPOT, "1000PEPEUSDT")])
def test_an_unlisted_symbol_is_1121(market: Market, symbol: str) -> None:
    book = SymbolBook.default()

    for lookup in (book.get, book.reference_price, reference_price):
        with pytest.raises(VenueError) as caught:
            lookup(market, symbol)
        assert (caught.value.code, caught.value.msg, caught.value.http_status) == (-1121, "Invalid symbol.", 400)


def test_the_book_refuses_a_symbol_listed_twice() -> None:
    with pytest.raises(ValueError, match="spot symbol BTCUSDT is listed twice"):
        SymbolBook([SPOT[0], SPOT[0]])


def test_a_book_of_loaded_symbols_takes_default_prices_onto_their_ticks() -> None:
    btc = load_exchange_info(fixture("exchange_info_spot.json"), Market.SPOT)[0]
    coarse = replace(btc, filters=(PriceFilter(D(10), D(0), D(10)),))  # the universe's 67250.00 is off this tick

    assert SymbolBook([btc]).reference_price(Market.SPOT, "BTCUSDT") == D("67250.00")
    assert SymbolBook([coarse]).reference_price(Market.SPOT, "BTCUSDT") == D(67250)
    assert SymbolBook([replace(coarse, filters=(PriceFilter(D(100), D(0), D(100)),))]).reference_price(
        Market.SPOT, "BTCUSDT"
    ) == D(67200)


def test_a_book_needs_a_price_for_each_symbol_the_universe_lacks() -> None:
    loaded = load_exchange_info(fixture("exchange_info_spot.json"), Market.SPOT)

    with pytest.raises(ValueError, match="no reference price for spot:ETHBTC; pass reference_prices for them"):
        SymbolBook(loaded)
    book = SymbolBook(loaded, {(Market.SPOT, info.symbol): D(1) for info in loaded})
    assert book.reference_price(Market.SPOT, "ETHBTC") == D(1)


# exchangeInfo snapshots.


@pytest.mark.parametrize(
    ("name", "market"), [("exchange_info_spot.json", Market.SPOT), ("exchange_info_futures.json", Market.FUTURES)]
)
def test_render_of_load_keeps_every_modelled_filter_field(name: str, market: Market) -> None:
    document = fixture(name)
    loaded = load_exchange_info(
        document, market, fixture("leverage_bracket.json") if market is Market.FUTURES else None
    )
    originals = {entry["symbol"]: entry for entry in document["symbols"]}

    assert loaded
    for info in loaded:
        rendered, original = render_exchange_info_symbol(info), originals[info.symbol]
        assert rendered["filters"] == [f for f in original["filters"] if f["filterType"] in MODELLED_FILTERS]
        shared = {"symbol", "status", "baseAsset", "quoteAsset", "baseAssetPrecision", "orderTypes", "quotePrecision"}
        if market is Market.SPOT:
            shared |= {"quoteAssetPrecision"}
        else:
            shared |= {
                "pricePrecision",
                "quantityPrecision",
                "timeInForce",
                "maintMarginPercent",
                "requiredMarginPercent",
                "liquidationFee",
                "marketTakeBound",
                "contractType",
                "pair",
                "marginAsset",
                "deliveryDate",
            }
        assert {key: rendered[key] for key in shared} == {key: original[key] for key in shared}


def test_loading_skips_unenforced_filters_and_non_perpetual_contracts() -> None:
    spot = load_exchange_info(fixture("exchange_info_spot.json"), Market.SPOT)
    futures = load_exchange_info(fixture("exchange_info_futures.json"), Market.FUTURES)

    assert [info.symbol for info in spot] == ["BTCUSDT", "ETHBTC", "DOGEUSDT"]
    assert [info.symbol for info in futures] == ["BTCUSDT", "1000PEPEUSDT"]
    assert [type(f).__name__ for f in spot[0].filters] == [
        "PriceFilter",
        "LotSize",
        "MarketLotSize",
        "PercentPriceBySide",
        "Notional",
        "MaxNumOrders",
    ]


def test_loaded_values_are_typed_and_exact() -> None:
    spot = load_exchange_info(fixture("exchange_info_spot.json"), Market.SPOT)
    btc = load_exchange_info(fixture("exchange_info_futures.json"), Market.FUTURES, fixture("leverage_bracket.json"))[0]

    assert spot[0].tick_size == D("0.01")
    assert (spot[0].price_precision, spot[0].quantity_precision) == (2, 5)  # from "0.01000000", "0.00001000"
    assert spot[1].get_filter(MinNotional) == MinNotional(D("0.0001"), True, 5)
    assert spot[1].get_filter(PercentPrice) == PercentPrice(D(5), D("0.2"), avg_price_mins=5)
    assert spot[2].status == "BREAK"
    assert btc.get_filter(PercentPrice) == PercentPrice(D("1.05"), D("0.95"), 4)
    assert (btc.price_precision, btc.quantity_precision, btc.time_in_force[-1]) == (2, 3, "GTD")
    assert btc.liquidation_fee == D("0.0125")
    assert len(btc.brackets) == 12
    assert btc.brackets[2].cum == D(950)
    assert btc.brackets[2].maint_margin_ratio == D("0.0065")


def test_loaded_perpetuals_without_a_bracket_file_take_the_universe_brackets() -> None:
    btc, pepe = load_exchange_info(fixture("exchange_info_futures.json"), Market.FUTURES)

    assert btc.brackets == next(info.brackets for info in FUTURES if info.symbol == "BTCUSDT")
    assert pepe.brackets == next(info.brackets for info in FUTURES if info.symbol == "1000PEPEUSDT")


def test_loaded_snapshot_filters_are_enforced() -> None:
    btc = load_exchange_info(fixture("exchange_info_futures.json"), Market.FUTURES)[0]

    with pytest.raises(VenueError) as caught:
        check_futures_order(
            btc, side="BUY", order_type="MARKET", quantity=D("120.001"), mark_price=D(60000), open_order_count=0
        )
    assert caught.value.code == -4005


@pytest.mark.parametrize("info", ALL, ids=ids(ALL))
def test_load_of_render_gives_back_the_symbol(info: SymbolInfo) -> None:
    document = json.loads(json.dumps({"symbols": [render_exchange_info_symbol(info)]}))
    brackets = json.loads(json.dumps([render_leverage_brackets(info)])) if info.market is Market.FUTURES else None

    assert load_exchange_info(document, info.market, brackets) == [info]


def test_rendered_numbers_are_strings_without_exponents() -> None:
    rendered = json.dumps([render_exchange_info_symbol(info) for info in ALL])

    assert "E-" not in rendered
    assert "E+" not in rendered
    spot_btc = render_exchange_info_symbol(SPOT[0])
    assert spot_btc["filters"][0] == {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.01000000",
        "maxPrice": "1000000.00000000",
        "tickSize": "0.01000000",
    }


def test_leverage_brackets_render_as_numbers() -> None:
    btc = next(info for info in FUTURES if info.symbol == "BTCUSDT")
    rendered = render_leverage_brackets(btc)

    assert rendered["symbol"] == "BTCUSDT"
    assert rendered["brackets"][1] == {
        "bracket": 2,
        "initialLeverage": 100,
        "notionalCap": 500000,
        "notionalFloor": 50000,
        "maintMarginRatio": 0.005,
        "cum": 50,
    }


def test_a_bracket_file_round_trips() -> None:
    data = fixture("leverage_bracket.json")
    loaded = load_leverage_brackets(data)

    assert set(loaded) == {"BTCUSDT", "1000PEPEUSDT"}
    info = replace(FUTURES[0], brackets=loaded["BTCUSDT"])
    assert render_leverage_brackets(info)["brackets"] == data[0]["brackets"]


def _broken(name: str, path: tuple[Any, ...], value: Any) -> Any:
    """The fixture with the value at ``path`` replaced, or removed when ``value`` is ``...``."""
    document = copy.deepcopy(fixture(name))
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("symbols", 0, "filters", 0, "tickSize"),
            "1e-05",
            "exchangeInfo symbol 'BTCUSDT': field 'filters[0].tickSize' is '1e-05'; "
            'expected a plain decimal string such as "0.01000000"',
        ),
        (
            ("symbols", 1, "filters", 1, "multiplierUp"),
            5,
            "exchangeInfo symbol 'ETHBTC': field 'filters[1].multiplierUp' is 5; "
            'expected a plain decimal string such as "0.2"',
        ),
        (
            ("symbols", 0, "filters", 6, "applyMinToMarket"),
            "true",
            "exchangeInfo symbol 'BTCUSDT': field 'filters[6].applyMinToMarket' is 'true'; expected true or false",
        ),
        (
            ("symbols", 2, "baseAssetPrecision"),
            ...,
            "exchangeInfo symbol 'DOGEUSDT': field 'baseAssetPrecision' is missing; expected an integer",
        ),
        (
            ("symbols", 2, "orderTypes"),
            "LIMIT",
            "exchangeInfo symbol 'DOGEUSDT': field 'orderTypes' is 'LIMIT'; expected a list of strings",
        ),
        (
            ("symbols", 0, "filters", 7, "maxNumOrders"),
            True,
            "exchangeInfo symbol 'BTCUSDT': field 'filters[7].maxNumOrders' is True; expected an integer",
        ),
        (
            ("symbols", 0, "filters", 2),
            "ICEBERG_PARTS",
            "exchangeInfo symbol 'BTCUSDT': filters[2] is 'ICEBERG_PARTS'; expected a JSON object",
        ),
        (
            ("symbols", 1, "symbol"),
            "",
            "exchangeInfo symbols[1]: field 'symbol' is ''; expected a non-empty string",
        ),
        (
            ("symbols", 1),
            [],
            "exchangeInfo symbols[1]: entry is []; expected a JSON object",
        ),
    ],
)
def test_a_bad_spot_snapshot_names_the_symbol_and_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_exchange_info(_broken("exchange_info_spot.json", path, value), Market.SPOT)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("symbols", 0, "filters", 6, "multiplierDecimal"),
            "four",
            "exchangeInfo symbol 'BTCUSDT': field 'filters[6].multiplierDecimal' is 'four'; "
            'expected an integer or a string of digits such as "4"',
        ),
        (
            ("symbols", 2, "liquidationFee"),
            0.015,
            "exchangeInfo symbol '1000PEPEUSDT': field 'liquidationFee' is 0.015; "
            'expected a plain decimal string such as "0.2"',
        ),
        (
            ("symbols", 0, "contractType"),
            ...,
            "exchangeInfo symbol 'BTCUSDT': field 'contractType' is missing; expected a non-empty string",
        ),
    ],
)
def test_a_bad_futures_snapshot_names_the_symbol_and_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_exchange_info(_broken("exchange_info_futures.json", path, value), Market.FUTURES)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "exchangeInfo: field 'symbols' is missing or not a list; expected the whole response"),
        ({"symbols": {}}, "exchangeInfo: field 'symbols' is missing or not a list; expected the whole response"),
    ],
)
def test_a_snapshot_without_symbols_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_exchange_info(data, Market.SPOT)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            (0, "brackets", 1, "cum"),
            "50",
            "leverageBracket symbol 'BTCUSDT': field 'brackets[1].cum' is '50'; expected a JSON number",
        ),
        (
            (1, "brackets", 0, "initialLeverage"),
            ...,
            "leverageBracket symbol '1000PEPEUSDT': field 'brackets[0].initialLeverage' is missing; "
            "expected an integer",
        ),
        ((1, "symbol"), None, "leverageBracket[1]: field 'symbol' is None; expected a non-empty string"),
    ],
)
def test_a_bad_bracket_file_names_the_symbol_and_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_leverage_brackets(_broken("leverage_bracket.json", path, value))

    assert str(caught.value) == message


def test_a_bracket_file_must_cover_every_perpetual() -> None:
    brackets = fixture("leverage_bracket.json")[:1]

    with pytest.raises(SnapshotError, match="leverageBracket: symbol '1000PEPEUSDT' is missing"):
        load_exchange_info(fixture("exchange_info_futures.json"), Market.FUTURES, brackets)


def test_a_bracket_file_must_be_a_list() -> None:
    with pytest.raises(SnapshotError, match="leverageBracket: got dict; expected a list of symbol entries"):
        load_leverage_brackets({"symbol": "BTCUSDT"})  # type: ignore[arg-type]
