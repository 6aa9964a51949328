"""A signal's life: created by a scan, updated by the next, expired after an hour, deleted after a day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import SignalFactory
from tradesim.clock import SimClock
from tradesim.db.models import Signal
from tradesim.domain.enums import SignalStatus
from tradesim.exchange.sim import SimExchange
from tradesim.exchange_sim.venue import Venue
from tradesim.services.scanner import scan_market
from tradesim.services.signal_lifecycle import delete_old, expire_stale
from tradesim.strategy.signals import SignalConfig

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


def test_expiry_marks_only_active_signals_older_than_an_hour(session: Session) -> None:
    old = SignalFactory(created_at=T0 - timedelta(minutes=61))
    young = SignalFactory(created_at=T0 - timedelta(minutes=59))
    boundary = SignalFactory(created_at=T0 - timedelta(hours=1))
    already = SignalFactory(created_at=T0 - timedelta(hours=3), status=SignalStatus.EXPIRED)
    session.commit()

    assert expire_stale(session, T0) == 1
    session.commit()
    session.expire_all()

    assert [session.get(Signal, s.id).status for s in (old, young, boundary, already)] == [  # type: ignore[union-attr]
        SignalStatus.EXPIRED,
        SignalStatus.ACTIVE,
        SignalStatus.ACTIVE,
        SignalStatus.EXPIRED,
    ]
    assert expire_stale(session, T0) == 0


def test_cleanup_deletes_every_signal_older_than_a_day_whatever_its_status(session: Session) -> None:
    old_active = SignalFactory(created_at=T0 - timedelta(hours=25))
    old_expired = SignalFactory(created_at=T0 - timedelta(hours=24, seconds=1), status=SignalStatus.EXPIRED)
    kept = SignalFactory(created_at=T0 - timedelta(hours=23))
    session.commit()

    assert delete_old(session, T0) == 2
    session.commit()

    assert [s.id for s in session.scalars(select(Signal))] == [kept.id]
    assert old_active.id != old_expired.id


def test_create_update_expire_delete(session: Session) -> None:
    clock = SimClock(T0)
    venue = Venue(clock, seed=21, history_days=1, spot_symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], futures_symbols=[])
    exchange = SimExchange(venue, "life")
    config = SignalConfig(min_confidence=0.0)

    first = scan_market(session, exchange, T0, top=3, interval="1m", config=config)
    session.commit()
    created = {s.id: s.symbol for s in session.scalars(select(Signal))}
    assert first.created == len(created) > 0

    # A minute later most setups hold: whatever survives keeps its id and creation time.
    later = T0 + timedelta(minutes=1)
    clock.set(later)
    second = scan_market(session, exchange, later, top=3, interval="1m", config=config)
    session.commit()
    assert second.created + second.updated == second.active
    survivors = [s for s in session.scalars(select(Signal)) if s.id in created]
    assert all(s.created_at == T0 for s in survivors)
    assert len(survivors) == second.updated

    assert expire_stale(session, T0 + timedelta(minutes=62)) == second.active
    session.commit()
    session.expire_all()  # a bulk UPDATE leaves loaded rows as they were
    assert {s.status for s in session.scalars(select(Signal))} == {SignalStatus.EXPIRED}

    assert delete_old(session, T0 + timedelta(hours=24, minutes=2)) == second.active
    session.commit()
    assert list(session.scalars(select(Signal))) == []
