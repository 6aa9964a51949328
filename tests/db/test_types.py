"""Money keeps every digit and times stay aware UTC, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from tests.factories import FillFactory, SignalFactory
from tradesim.db.models import Fill, Signal


def test_money_round_trips_exactly(session: Session) -> None:
    amount = Decimal("12345678901234567890.123456789012345678")
    fill = FillFactory(price=amount, quantity=Decimal("0.000000000000000001"))
    session.commit()
    session.expunge_all()

    stored = session.scalars(select(Fill).where(Fill.id == fill.id)).one()

    assert stored.price == amount
    assert stored.quantity == Decimal("0.000000000000000001")
    assert isinstance(stored.price, Decimal)


def test_money_refuses_floats(session: Session) -> None:
    FillFactory(price=0.1, quote_quantity=Decimal("0.0001"))  # type: ignore[arg-type]

    with pytest.raises(StatementError, match="money must be a Decimal"):
        session.commit()


def test_times_come_back_aware_utc(session: Session) -> None:
    plus_five = timezone(timedelta(hours=5))
    created = datetime(2026, 6, 1, 17, 30, tzinfo=plus_five)
    signal = SignalFactory(created_at=created)
    session.commit()
    session.expunge_all()

    stored = session.scalars(select(Signal).where(Signal.id == signal.id)).one()

    assert stored.created_at == datetime(2026, 6, 1, 12, 30, tzinfo=timezone.utc)
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(session: Session) -> None:
    SignalFactory(created_at=datetime(2026, 6, 1, 12, 30))

    with pytest.raises(StatementError, match="timezone-aware"):
        session.commit()
