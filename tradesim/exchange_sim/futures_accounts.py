"""USD-M futures accounts: one USDT wallet, per-symbol leverage and margin type, one-way positions, income.

The wallet balance is split in two: each isolated position's ``isolated_wallet`` (the margin moved to it
when it opened, plus funding and added margin) and the cross wallet, which is whatever is left. Every
movement of the wallet is an ``IncomeRecord``, so ``wallet_balance`` always equals the sum of the income
history. Nothing may take the wallet below zero: a loss or fee larger than what may pay it is cut to what
is there (an isolated position loses at most its own margin), and the income row books what was taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradesim.exchange_sim.futures_orders import IncomeRecord
from tradesim.exchange_sim.records import JsonRecord

ZERO = Decimal(0)
DEFAULT_LEVERAGE = 20
DEFAULT_MARGIN_TYPE = "CROSSED"
DEFAULT_MAKER_RATE = Decimal("0.0002")
DEFAULT_TAKER_RATE = Decimal("0.0005")


@dataclass(slots=True)
class SymbolSettings:
    """An account's choices for one symbol: Binance's defaults are 20x and CROSSED."""

    leverage: int = DEFAULT_LEVERAGE
    margin_type: str = DEFAULT_MARGIN_TYPE

    @property
    def isolated(self) -> bool:
        return self.margin_type == "ISOLATED"


@dataclass(slots=True)
class FuturesPosition(JsonRecord):
    """A one-way position: signed amount (long > 0), entry price, the margin isolated for it.

    ``realized_pnl`` adds up what every closing fill of the symbol realized, over the account's life.
    """

    symbol: str
    position_amt: Decimal = ZERO
    entry_price: Decimal = ZERO
    isolated_wallet: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    update_time: int = 0


@dataclass(slots=True)
class FuturesAccount:
    """A futures account in one-way mode (``dualSidePosition`` is always false)."""

    account_id: str
    maker_rate: Decimal = DEFAULT_MAKER_RATE
    taker_rate: Decimal = DEFAULT_TAKER_RATE
    wallet_balance: Decimal = ZERO
    settings: dict[str, SymbolSettings] = field(default_factory=dict)
    positions: dict[str, FuturesPosition] = field(default_factory=dict)
    income: list[IncomeRecord] = field(default_factory=list)
    update_time: int = 0

    def settings_for(self, symbol: str) -> SymbolSettings:
        """The symbol's settings to read (a fresh default when never set; changing it changes nothing)."""
        found = self.settings.get(symbol)
        return found if found is not None else SymbolSettings()

    def own_settings(self, symbol: str) -> SymbolSettings:
        """The symbol's settings to change."""
        found = self.settings.get(symbol)
        if found is None:
            found = self.settings[symbol] = SymbolSettings()
        return found

    def position(self, symbol: str) -> FuturesPosition:
        found = self.positions.get(symbol)
        if found is None:
            found = self.positions[symbol] = FuturesPosition(symbol)
        return found

    def open_positions(self) -> list[FuturesPosition]:
        """Non-flat positions, by symbol name (a stable order for liquidation and funding)."""
        return sorted((p for p in self.positions.values() if p.position_amt != 0), key=lambda p: p.symbol)

    def position_amt(self, symbol: str) -> Decimal:
        found = self.positions.get(symbol)
        return found.position_amt if found is not None else ZERO

    @property
    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.positions.values()), ZERO)

    @property
    def cross_wallet_balance(self) -> Decimal:
        return self.wallet_balance - self.isolated_total

    @property
    def spendable_cross(self) -> Decimal:
        return max(self.cross_wallet_balance, ZERO)

    # Wallet movements -----------------------------------------------------------------------------

    def book(
        self,
        tran_id: int,
        income_type: str,
        symbol: str,
        amount: Decimal,
        at_ms: int,
        trade_id: int | None = None,
        info: str = "",
    ) -> IncomeRecord:
        """Move the wallet by ``amount`` and record it; callers have already cut ``amount`` to what is there."""
        if self.wallet_balance + amount < 0:
            raise AssertionError(f"booking {amount} would take wallet {self.wallet_balance} below zero")
        self.wallet_balance += amount
        record = IncomeRecord(tran_id, symbol, income_type, amount, at_ms, info or income_type, trade_id)
        self.income.append(record)
        self.update_time = max(self.update_time, at_ms)
        return record

    def chargeable(self, amount: Decimal) -> Decimal:
        """How much of a cost (fee) the cross wallet can pay: all of it, or what is there."""
        return min(amount, self.spendable_cross)

    def isolate(self, position: FuturesPosition, margin: Decimal) -> Decimal:
        """Move up to ``margin`` from the cross wallet into the position's isolated wallet; returns what moved."""
        moved = min(margin, self.spendable_cross)
        position.isolated_wallet += moved
        return moved

    def realizable(self, position: FuturesPosition, isolated: bool, closed: Decimal, realized: Decimal) -> Decimal:
        """Release margin for closing ``closed`` of ``position`` and return the PnL the wallet can book.

        Isolated: the closed share of the isolated wallet returns to the cross wallet with the PnL; a loss
        beyond that share eats the rest of the position's margin, and never more. Cross: a loss is cut to
        the cross wallet. Call before changing the position amount.
        """
        if not isolated:
            return max(realized, -self.spendable_cross)
        size = abs(position.position_amt)
        wallet = position.isolated_wallet
        share = wallet if closed >= size else wallet * closed / size
        keep = wallet - share
        booked = realized
        if share + realized < 0:
            keep += share + realized
            if keep < 0:
                booked = realized - keep
                keep = ZERO
        position.isolated_wallet = keep
        return booked

    def fundable(self, position: FuturesPosition, isolated: bool, payment: Decimal) -> Decimal:
        """The part of a funding payment the position's margin can bear; isolated funding moves its wallet."""
        if isolated:
            booked = max(payment, -position.isolated_wallet)
            position.isolated_wallet += booked
            return booked
        return max(payment, -self.spendable_cross)

    # State ----------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "maker_rate": str(self.maker_rate),
            "taker_rate": str(self.taker_rate),
            "wallet_balance": str(self.wallet_balance),
            "settings": {s: [v.leverage, v.margin_type] for s, v in sorted(self.settings.items())},
            "positions": [self.positions[s].snapshot() for s in sorted(self.positions)],
            "income": [record.snapshot() for record in self.income],
            "update_time": self.update_time,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> FuturesAccount:
        return cls(
            account_id=str(data["account_id"]),
            maker_rate=Decimal(data["maker_rate"]),
            taker_rate=Decimal(data["taker_rate"]),
            wallet_balance=Decimal(data["wallet_balance"]),
            settings={s: SymbolSettings(int(lev), str(kind)) for s, (lev, kind) in data["settings"].items()},
            positions={p["symbol"]: FuturesPosition.restore(p) for p in data["positions"]},
            income=[IncomeRecord.restore(record) for record in data["income"]],
            update_time=int(data["update_time"]),
        )
