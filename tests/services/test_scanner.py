"""The market scan on the in-process simulator: top pairs by quote volume, and how signal rows follow the market."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import SignalFactory
from tradesim.clock import SimClock
from tradesim.db.models import Signal as SignalRow
from tradesim.domain.enums import Market, SignalDirection, SignalStatus
from tradesim.domain.market import datetime_to_ms
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.scanner import ScanResult, scan_market, top_pairs
from tradesim.strategy.signals import Signal, SignalConfig, evaluate

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT"]
START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
CONFIG = SignalConfig(min_confidence=0.0)
INTERVAL = "1m"


@pytest.fixture
def market() -> tuple[SimExchange, SimClock]:
    clock = SimClock(START)
    venue = Venue(clock, seed=21, history_days=1, spot_symbols=SYMBOLS, futures_symbols=[])
    return SimExchange(venue, "scanner"), clock


def expected_signals(exchange: SimExchange, symbols: list[str], now: datetime) -> dict[str, Signal | None]:
    """What evaluate() says on each symbol's closed candles: the oracle the scan must follow."""
    found = {}
    for symbol in symbols:
        candles = [
            c
            for c in exchange.klines(Market.SPOT, symbol, INTERVAL, end=now, limit=CONFIG.lookback + 1)
            if c.close_time < datetime_to_ms(now)
        ]
        found[symbol] = evaluate(symbol, candles, CONFIG, tick_sizes(exchange)[symbol])
    return found


def tick_sizes(exchange: SimExchange) -> dict[str, Decimal]:
    return {info.symbol: info.tick_size for info in exchange.exchange_info(Market.SPOT)}


def scan(session: Session, exchange: SimExchange) -> ScanResult:
    return scan_market(
        session, exchange, START, top=len(SYMBOLS), interval=INTERVAL, config=CONFIG, tick_sizes=tick_sizes(exchange)
    )


def rows(session: Session) -> dict[str, SignalRow]:
    session.expire_all()
    return {
        row.symbol: row for row in session.scalars(select(SignalRow).where(SignalRow.status == SignalStatus.ACTIVE))
    }


def test_top_pairs_are_the_largest_quote_volumes_quoted_in_usdt(market: tuple[SimExchange, SimClock]) -> None:
    exchange, _ = market
    tickers = sorted(exchange.tickers_24h(Market.SPOT), key=lambda t: -t.quote_volume)

    assert top_pairs(exchange, 3) == [t.symbol for t in tickers[:3]]
    assert top_pairs(exchange, 3, tradable=["ADAUSDT", "XRPUSDT"]) == [
        t.symbol for t in tickers if t.symbol in ("ADAUSDT", "XRPUSDT")
    ]
    assert len(top_pairs(exchange, 50)) == len(SYMBOLS)


def test_a_scan_creates_a_row_for_each_signal_and_none_without(
    market: tuple[SimExchange, SimClock], session: Session
) -> None:
    exchange, _ = market
    pairs = top_pairs(exchange, len(SYMBOLS))
    oracle = expected_signals(exchange, pairs, START)

    result = scan_market(
        session, exchange, START, top=len(SYMBOLS), interval=INTERVAL, config=CONFIG, tick_sizes=tick_sizes(exchange)
    )
    session.commit()

    found = rows(session)
    assert set(found) == {symbol for symbol, signal in oracle.items() if signal is not None}
    for symbol, row in found.items():
        signal = oracle[symbol]
        assert signal is not None
        assert (row.direction, row.entry_price, row.stop_loss, row.take_profit) == (
            signal.direction,
            signal.entry,
            signal.stop_loss,
            signal.take_profit,
        )
        assert row.confidence == pytest.approx(signal.confidence)
        assert row.created_at == row.updated_at == START
    assert result.as_json() == {"created": len(found), "updated": 0, "deleted": 0, "active": len(found)}


def test_rows_follow_the_market_updated_replaced_or_deleted(
    market: tuple[SimExchange, SimClock], session: Session
) -> None:
    exchange, _ = market
    pairs = top_pairs(exchange, len(SYMBOLS))
    oracle = expected_signals(exchange, pairs, START)
    with_signal = [s for s in pairs if oracle[s] is not None]
    without = [s for s in pairs if oracle[s] is None]
    assert with_signal, "seed 21 gives signals at the start"
    assert without, "and pairs without one"
    earlier = START - timedelta(minutes=10)
    same, *rest = with_signal
    kept = SignalFactory(symbol=same, interval=INTERVAL, direction=oracle[same].direction, created_at=earlier)  # type: ignore[union-attr]
    flipped = []
    for symbol in rest:
        opposite = SignalDirection.SHORT if oracle[symbol].direction is SignalDirection.LONG else SignalDirection.LONG  # type: ignore[union-attr]
        flipped.append(SignalFactory(symbol=symbol, interval=INTERVAL, direction=opposite, created_at=earlier))
    stale = SignalFactory(symbol=without[0], interval=INTERVAL, created_at=earlier)
    session.commit()

    result = scan_market(
        session, exchange, START, top=len(SYMBOLS), interval=INTERVAL, config=CONFIG, tick_sizes=tick_sizes(exchange)
    )
    session.commit()

    found = rows(session)
    assert found[same].id == kept.id
    assert (found[same].created_at, found[same].updated_at) == (earlier, START)
    for old in flipped:
        assert found[old.symbol].id != old.id
        assert found[old.symbol].direction is oracle[old.symbol].direction  # type: ignore[union-attr]
    assert stale.symbol not in found
    assert result.as_json() == {
        "created": len(flipped),
        "updated": 1,
        "deleted": len(flipped) + 1,
        "active": len(with_signal),
    }


def test_rows_of_another_interval_or_market_are_left_alone(
    market: tuple[SimExchange, SimClock], session: Session
) -> None:
    exchange, _ = market
    other_interval = SignalFactory(symbol="BTCUSDT", interval="4h")
    other_market = SignalFactory(symbol="BTCUSDT", interval=INTERVAL, market=Market.FUTURES)
    session.commit()

    scan_market(
        session, exchange, START, top=len(SYMBOLS), interval=INTERVAL, config=CONFIG, tick_sizes=tick_sizes(exchange)
    )
    session.commit()

    session.expire_all()
    assert session.get(SignalRow, other_interval.id) is not None
    assert session.get(SignalRow, other_market.id) is not None
