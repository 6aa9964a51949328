"""The market scan: the top USDT pairs by 24 h quote volume, their closed candles, ``SignalConfig`` → signal rows.

For each scanned pair the newest closed candle gives a signal or none, and
the pair's ACTIVE signal row (one per symbol, market and interval) follows it:

- a signal and no active row → **created**;
- a signal in the active row's direction → **updated** (prices, confidence,
  evidence, ``updated_at``; ``created_at`` keeps the signal's age);
- a signal against the active row's direction → the row is **deleted** and a
  new one **created**;
- no signal while a row is active → the row is **deleted** (its setup is gone).

Signals expire by age (``signal_lifecycle``), not here. Pairs outside the
top list keep their rows until they expire.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradesim.db.models import Signal as SignalRow
from tradesim.domain.enums import Market, SignalStatus
from tradesim.domain.market import datetime_to_ms
from tradesim.exchange.port import ExchangeClient
from tradesim.strategy.signals import Signal, SignalConfig, evaluate

log = logging.getLogger(__name__)

QUOTE_ASSET = "USDT"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The counts ``scan_binance_market`` returns."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    active: int = 0
    scanned: int = 0

    def as_json(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted, "active": self.active}


def top_pairs(exchange: ExchangeClient, count: int, *, tradable: Sequence[str] | None = None) -> list[str]:
    """The ``count`` spot pairs quoted in USDT with the largest 24 h quote volume (ties by name).

    ``tradable`` (the symbols the exchange lists as TRADING, from the symbol
    cache) narrows the choice when given.
    """
    allowed = None if tradable is None else set(tradable)
    tickers = [
        ticker
        for ticker in exchange.tickers_24h(Market.SPOT)
        if ticker.symbol.endswith(QUOTE_ASSET) and (allowed is None or ticker.symbol in allowed)
    ]
    tickers.sort(key=lambda ticker: (-ticker.quote_volume, ticker.symbol))
    return [ticker.symbol for ticker in tickers[:count]]


def _fill(row: SignalRow, signal: Signal, now: datetime) -> None:
    row.direction = signal.direction
    row.confidence = signal.confidence
    row.entry_price = signal.entry
    row.stop_loss = signal.stop_loss
    row.take_profit = signal.take_profit
    row.evidence = {name: round(value, 6) for name, value in signal.evidence.items()}
    row.updated_at = now


def scan_market(
    session: Session,
    exchange: ExchangeClient,
    now: datetime,
    *,
    top: int,
    interval: str,
    config: SignalConfig,
    tick_sizes: Mapping[str, Decimal] | None = None,
    tradable: Sequence[str] | None = None,
) -> ScanResult:
    """Scan the top pairs at ``now`` and bring the signal rows in line (see the module docstring); flushes only."""
    pairs = top_pairs(exchange, top, tradable=tradable)
    now_ms = datetime_to_ms(now)
    end = now - timedelta(milliseconds=1)
    active = {
        row.symbol: row
        for row in session.scalars(
            select(SignalRow).where(
                SignalRow.market == Market.SPOT,
                SignalRow.interval == interval,
                SignalRow.status == SignalStatus.ACTIVE,
                SignalRow.symbol.in_(pairs),
            )
        )
    }
    created = updated = deleted = 0
    for symbol in pairs:
        candles = [
            candle
            for candle in exchange.klines(Market.SPOT, symbol, interval, end=end, limit=config.lookback + 1)
            if candle.close_time < now_ms
        ]
        tick = (tick_sizes or {}).get(symbol)
        signal = evaluate(symbol, candles, config, tick if tick and tick > 0 else None)
        row = active.get(symbol)
        if row is not None and (signal is None or signal.direction is not row.direction):
            session.delete(row)
            deleted += 1
            row = None
        if signal is None:
            continue
        if row is None:
            row = SignalRow(symbol=symbol, market=Market.SPOT, interval=interval, created_at=now)
            _fill(row, signal, now)
            session.add(row)
            created += 1
        else:
            _fill(row, signal, now)
            updated += 1
    session.flush()
    count = session.scalar(select(func.count()).select_from(SignalRow).where(SignalRow.status == SignalStatus.ACTIVE))
    result = ScanResult(created, updated, deleted, count or 0, len(pairs))
    log.info(
        "Market scan complete: %d pairs scanned, %d signals created, %d updated, %d deleted, %d active",
        result.scanned,
        result.created,
        result.updated,
        result.deleted,
        result.active,
    )
    return result
