"""Spot accounts: free and locked balances per asset, changed only through checked moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradesim.exchange_sim import errors

ZERO = Decimal(0)


@dataclass(slots=True)
class Balance:
    """One asset's balance: ``free`` can be spent or locked; ``locked`` is held by open orders."""

    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class CommissionRates:
    """Maker and taker fee rates of an account (Binance's default spot rate is 0.1%)."""

    maker: Decimal = Decimal("0.001")
    taker: Decimal = Decimal("0.001")


@dataclass(slots=True)
class SpotAccount:
    """A spot account. Every move keeps free and locked non-negative, or raises before changing anything."""

    account_id: str
    commission: CommissionRates = field(default_factory=CommissionRates)
    balances: dict[str, Balance] = field(default_factory=dict)
    update_time: int = 0

    def balance(self, asset: str) -> Balance:
        found = self.balances.get(asset)
        if found is None:
            found = self.balances[asset] = Balance()
        return found

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Credit ``amount`` of ``asset`` as free balance (starting balances, test set-up)."""
        if amount < 0:
            raise ValueError(f"a deposit must not be negative, got {amount} {asset}")
        self.balance(asset).free += amount

    def require_free(self, asset: str, amount: Decimal) -> None:
        """Refuse with Binance's -2010 when less than ``amount`` of ``asset`` is free."""
        if self.balance(asset).free < amount:
            raise errors.insufficient_balance()

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked, for a resting order."""
        self.require_free(asset, amount)
        held = self.balance(asset)
        held.free -= amount
        held.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` back from locked to free, when an order is cancelled, expires or over-locked."""
        held = self.balance(asset)
        if amount > held.locked:
            raise AssertionError(f"unlocking {amount} {asset} but only {held.locked} is locked")
        held.locked -= amount
        held.free += amount

    def settle(
        self,
        *,
        pay_asset: str,
        pay_amount: Decimal,
        receive_asset: str,
        receive_amount: Decimal,
        commission: Decimal,
        from_locked: bool,
    ) -> None:
        """Book one trade: pay from free (taker) or locked (resting order), receive less commission."""
        paid = self.balance(pay_asset)
        if from_locked:
            if pay_amount > paid.locked:
                raise AssertionError(f"paying {pay_amount} {pay_asset} from {paid.locked} locked")
            paid.locked -= pay_amount
        else:
            if pay_amount > paid.free:
                raise errors.insufficient_balance()
            paid.free -= pay_amount
        self.balance(receive_asset).free += receive_amount - commission

    def snapshot(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "commission": {"maker": str(self.commission.maker), "taker": str(self.commission.taker)},
            "balances": {a: [str(b.free), str(b.locked)] for a, b in sorted(self.balances.items())},
            "update_time": self.update_time,
        }

    @classmethod
    def restore(cls, data: dict[str, object]) -> SpotAccount:
        commission = data["commission"]
        balances = data["balances"]
        if not isinstance(commission, dict) or not isinstance(balances, dict):
            raise ValueError(f"account snapshot of {data.get('account_id')!r} lacks commission or balances")
        update_time = data.get("update_time", 0)
        return cls(
            account_id=str(data["account_id"]),
            commission=CommissionRates(Decimal(commission["maker"]), Decimal(commission["taker"])),
            balances={a: Balance(Decimal(free), Decimal(locked)) for a, (free, locked) in balances.items()},
            update_time=int(update_time) if isinstance(update_time, int) else 0,
        )
