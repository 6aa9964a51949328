"""``BotRunner.tick``: the one trading path of a bot, one tick in one transaction.

A tick reads the closed candles up to its minute, asks the bot's strategy,
sizes with the bot's risk columns, places orders and records them, their fills
and a ``BotRun`` row. The caller owns the transaction (one per tick): ``tick``
flushes, never commits.

Idempotency: ``tick_at`` is ``now`` floored to the minute. A finished run of
``(bot, tick_at)`` is returned untouched. Client order ids are
``make_client_order_id(bot.id, tick_at, tag)`` with the tags ``e`` (entry),
``x`` (exit), ``s`` (stop), so a retried tick re-sends the same ids and the
exchange port answers with the order already placed instead of a second one.
The candles are read up to ``tick_at`` (not to whenever the retry runs), so a
retry sees the same market.

Errors: ``RejectedError`` ends the run REJECTED with the code and message;
``FatalError`` (and a strategy config that does not parse) deactivates the bot
with ``FATAL_ERROR`` and ends the run FAILED; ``TemporaryError`` propagates
with the run left RUNNING, so the retried task continues that same run
(``attempts`` counts the tries). A daily loss at or over ``daily_loss_limit``
deactivates the bot with ``DAILY_LOSS_LIMIT``.

Positions: spot is folded from the bot's recorded fills (see ``ledger``),
dust too small to sell counting as none; futures asks ``exchange.positions``. The caller reconciles (``reconcile``)
before ticking, so fills of resting orders are recorded first.

Candles: the strategy's ``lookback`` (its warmup plus what recursive
indicators need to forget their seed) and a few more, closed before the tick.

Stop-loss and take-profit: the entry order's row records both levels
(``Order.stop_loss`` / ``Order.take_profit``). On spot a STOP_LOSS_LIMIT sell
guards a long entry on the exchange. On futures, and for spot take-profits,
the levels are watched by the ticks: a later tick EXITs when the last closed
candle's close crosses one. Between ticks such a position is unprotected; the
exchange port can place futures STOP_MARKET / TAKE_PROFIT_MARKET orders, but
the runner does not use them yet.

``BotRun`` has no column of its own for a reason, so ``error`` carries the
reason of every outcome other than OK (and notes on an OK run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from tradesim.bots.ledger import Ledger, bot_ledger
from tradesim.bots.orders import on_grid, on_step, record_order
from tradesim.bots.reconcile import make_client_order_id
from tradesim.clock import Clock, require_utc
from tradesim.db.models import Bot, BotRun, Order, Signal
from tradesim.domain.enums import (
    BotStatus,
    DeactivationReason,
    Market,
    OrderSide,
    OrderStatus,
    OrderType,
    RunOutcome,
    SignalDirection,
    SignalStatus,
    TimeInForce,
)
from tradesim.domain.market import datetime_to_ms
from tradesim.domain.symbols import SymbolInfo
from tradesim.domain.trading import Order as ExchangeOrder
from tradesim.domain.trading import OrderRequest
from tradesim.errors import FatalError, OrderNotFound, RejectedError, TemporaryError, TradesimError
from tradesim.exchange.port import ExchangeClient
from tradesim.strategy.registry import strategy_from_params
from tradesim.strategy.risk import (
    RiskConfig,
    SizeSkipped,
    SizingMode,
    can_open_position,
    daily_loss_exceeded,
    market_tradable,
    size_position,
)
from tradesim.strategy.strategies import Action, Decision, OpenPosition, ScannerSignal, StrategyContext

ZERO = Decimal(0)
DEFAULT_INTERVAL = "1m"
EXTRA_CANDLES = 5  # a few more than the warmup, so a strategy looking one candle back has it
ENTRY, EXIT, STOP = "e", "x", "s"


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: RunOutcome
    note: str | None = None


def tick_minute(now: datetime) -> datetime:
    """The tick ``now`` belongs to: its minute, in UTC."""
    return require_utc(now, "now").astimezone(timezone.utc).replace(second=0, microsecond=0)


def _insert_run(session: Session, bot_id: int, tick_at: datetime, now: datetime) -> int | None:
    """INSERT the RUNNING run of ``(bot_id, tick_at)`` unless one exists; the new row's id, or None."""
    values = {"bot_id": bot_id, "tick_at": tick_at, "started_at": now, "outcome": RunOutcome.RUNNING, "attempts": 1}
    keys = ["bot_id", "tick_at"]
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql_insert(BotRun).values(**values).on_conflict_do_nothing(index_elements=keys)
        return session.execute(statement.returning(BotRun.id)).scalar_one_or_none()
    lite = sqlite_insert(BotRun).values(**values).on_conflict_do_nothing(index_elements=keys)
    return session.execute(lite.returning(BotRun.id)).scalar_one_or_none()


def describe_error(exc: TradesimError) -> str:
    """An error as a run records it: its class, message, and the exchange's code and msg when known."""
    return f"{type(exc).__name__}: {exc}"


class BotRunner:
    """Runs bots' ticks against one exchange within one session; see the module docstring."""

    def __init__(
        self,
        exchange: ExchangeClient,
        session: Session,
        *,
        interval: str = DEFAULT_INTERVAL,
        clock: Clock | None = None,
    ) -> None:
        self.exchange = exchange
        self.session = session
        self.interval = interval
        self.clock = clock

    def tick(self, bot: Bot, now: datetime) -> BotRun:
        """Run ``bot``'s tick of ``now`` once; a finished tick is returned as it was."""
        tick_at = tick_minute(now)
        started = self.clock.now() if self.clock is not None else None
        run, ours = self._claim(bot, tick_at, now)
        if not ours:
            return run
        try:
            result = self._trade(bot, run, tick_at)
        except TemporaryError:
            self.session.flush()
            raise
        except RejectedError as exc:
            result = _Result(RunOutcome.REJECTED, describe_error(exc))
        except FatalError as exc:
            self._deactivate(bot, DeactivationReason.FATAL_ERROR, describe_error(exc), now)
            result = _Result(RunOutcome.FAILED, describe_error(exc))
        run.outcome = result.outcome
        run.error = result.note
        run.finished_at = now
        run.duration_ms = 0
        if self.clock is not None and started is not None:
            run.duration_ms = max(0, int((self.clock.now() - started) / timedelta(milliseconds=1)))
        self.session.flush()
        return run

    # The run row ----------------------------------------------------------------------------------

    def _existing(self, bot: Bot, tick_at: datetime) -> BotRun | None:
        query = select(BotRun).where(BotRun.bot_id == bot.id, BotRun.tick_at == tick_at)
        return self.session.scalars(query.execution_options(populate_existing=True)).one_or_none()

    def _claim(self, bot: Bot, tick_at: datetime, now: datetime) -> tuple[BotRun, bool]:
        """The tick's run and whether to trade it: a new run is; a finished one is not; a RUNNING one continues.

        The row is inserted with ON CONFLICT DO NOTHING, so two workers on the
        same tick never both create it (PostgreSQL makes the second wait for
        the first's commit). A RUNNING run found here is a retry of a tick
        that hit a temporary error, or a duplicate delivery after the bot's
        lock expired: continuing it re-sends the same client order ids, which
        the exchange answers with the orders already placed.
        """
        created = _insert_run(self.session, bot.id, tick_at, now)
        if created is not None:
            # The row holds exactly these values: attach them as loaded instead of reading the row back.
            run = BotRun(
                id=created,
                bot_id=bot.id,
                tick_at=tick_at,
                started_at=now,
                outcome=RunOutcome.RUNNING,
                attempts=1,
                finished_at=None,
                duration_ms=None,
                error=None,
            )
            make_transient_to_detached(run)
            self.session.add(run)
            return run, True
        existing = self._existing(bot, tick_at)
        if existing is None:
            raise RuntimeError(f"bot {bot.id}: the run of {tick_at.isoformat()} vanished while being claimed")
        if existing.outcome is not RunOutcome.RUNNING:
            return existing, False
        existing.attempts += 1
        return existing, True

    def _deactivate(self, bot: Bot, reason: DeactivationReason, message: str, now: datetime) -> None:
        bot.status = BotStatus.DEACTIVATED
        bot.status_reason = reason
        bot.status_message = message
        bot.status_changed_at = now

    # The decision ---------------------------------------------------------------------------------

    def _trade(self, bot: Bot, run: BotRun, tick_at: datetime) -> _Result:
        if bot.status is not BotStatus.ACTIVE:
            return _Result(RunOutcome.NO_ACTION, f"bot is {bot.status}, not active")
        try:
            strategy = strategy_from_params(bot.strategy, bot.strategy_params)
        except ValueError as exc:
            raise FatalError(f"bot {bot.id} strategy {bot.strategy!r} does not parse: {exc}") from None
        info = self._symbol(bot)
        ledger = bot_ledger(self.session, bot, info.base_asset, tick_at.date())
        if daily_loss_exceeded(ledger.realized_on_day, bot.daily_loss_limit):
            reason = f"realized {ledger.realized_on_day} today reaches the daily loss limit {bot.daily_loss_limit}"
            self._deactivate(bot, DeactivationReason.DAILY_LOSS_LIMIT, reason, tick_at)
            return _Result(RunOutcome.NO_ACTION, reason)
        end = tick_at - timedelta(milliseconds=1)
        limit = strategy.lookback + EXTRA_CANDLES
        candles = [
            candle
            for candle in self.exchange.klines(bot.market, bot.symbol, self.interval, end=end, limit=limit)
            if candle.close_time < datetime_to_ms(tick_at)
        ]
        position = self._position(bot, info, ledger, candles[-1].close if candles else None)
        context = StrategyContext(
            symbol=bot.symbol,
            market=bot.market,
            candles=candles,
            now=tick_at,
            position=position,
            signals=self._signals(bot) if strategy.uses_signals else (),
            tick_size=info.tick_size if info.tick_size > 0 else None,
        )
        decision = self._level_exit(bot, position, candles[-1].close if candles else None)
        if decision is None:
            decision = strategy.decide(context)
        if decision.action is Action.HOLD:
            return _Result(RunOutcome.NO_ACTION, f"hold: {decision.reason}")
        if decision.action is Action.EXIT:
            if position is None:
                return _Result(RunOutcome.NO_ACTION, f"exit without a position: {decision.reason}")
            return self._exit(bot, run, tick_at, info, position, decision)
        return self._enter(bot, run, tick_at, info, position, decision, candles[-1].close)

    def _symbol(self, bot: Bot) -> SymbolInfo:
        for info in self.exchange.exchange_info(bot.market):
            if info.symbol == bot.symbol:
                return info
        raise FatalError(f"bot {bot.id}: {bot.market} {bot.symbol} is not listed on the exchange")

    def _position(self, bot: Bot, info: SymbolInfo, ledger: Ledger, price: Decimal | None) -> OpenPosition | None:
        """Spot: the fills' net base, none when it is dust (too small to sell); futures: the exchange's position.

        Dust is what base-asset fees and step rounding leave behind; it adds up
        over many trades, and a position that cannot be sold would ask for an
        exit the exchange refuses at every tick.
        """
        if bot.market is Market.FUTURES:
            for held in self.exchange.positions(bot.symbol):
                if held.symbol == bot.symbol and held.amount != 0:
                    side = SignalDirection.LONG if held.amount > 0 else SignalDirection.SHORT
                    return OpenPosition(side, abs(held.amount), held.entry_price)
            return None
        quantity = on_step(ledger.quantity, info)
        if ledger.entry_price <= 0 or not market_tradable(info, quantity, price or ledger.entry_price):
            return None
        return OpenPosition(SignalDirection.LONG, quantity, ledger.entry_price)

    def _signals(self, bot: Bot) -> list[ScannerSignal]:
        """Active scanner signals on the bot's symbol; a signal counts from the time it was recorded."""
        query = (
            select(Signal)
            .where(Signal.symbol == bot.symbol, Signal.market == bot.market, Signal.status == SignalStatus.ACTIVE)
            .order_by(Signal.created_at, Signal.id)
        )
        return [
            ScannerSignal(
                symbol=row.symbol,
                direction=row.direction,
                confidence=row.confidence,
                entry=row.entry_price,
                stop_loss=row.stop_loss,
                take_profit=row.take_profit,
                candle_close_time=datetime_to_ms(row.created_at),
            )
            for row in self.session.scalars(query)
        ]

    def _level_exit(self, bot: Bot, position: OpenPosition | None, close: Decimal | None) -> Decision | None:
        """EXIT when the last close crossed the stop or target recorded on the latest entry order."""
        if position is None or close is None:
            return None
        # Money is stored as text on SQLite, so "executed > 0" is decided here rather than in SQL.
        query = (
            select(Order.stop_loss, Order.take_profit, Order.executed_quantity)
            .where(Order.bot_id == bot.id, Order.client_order_id.like(f"%-{ENTRY}"))
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
        # Streamed a few rows at a time: the latest entry is all that is wanted, not a year of them.
        rows = self.session.execute(query.execution_options(yield_per=8))
        try:
            stop, target = next(((s, t) for s, t, executed in rows if executed > 0), (None, None))
        finally:
            rows.close()
        if stop is None or target is None:
            return None
        long = position.side is SignalDirection.LONG
        if (close <= stop) if long else (close >= stop):
            return Decision.exit(f"close {close} crossed the stop-loss {stop}")
        if (close >= target) if long else (close <= target):
            return Decision.exit(f"close {close} crossed the take-profit {target}")
        return None

    # Orders ---------------------------------------------------------------------------------------

    def _enter(
        self,
        bot: Bot,
        run: BotRun,
        tick_at: datetime,
        info: SymbolInfo,
        position: OpenPosition | None,
        decision: Decision,
        price: Decimal,
    ) -> _Result:
        futures = bot.market is Market.FUTURES
        config = RiskConfig(
            sizing=SizingMode.FIXED_QUOTE,
            quote_amount=bot.max_position_quote,
            max_quote=bot.max_position_quote,
            leverage=bot.leverage if futures else 1,
            max_open_positions=bot.max_open_positions,
            daily_loss_limit=bot.daily_loss_limit,
        )
        if not can_open_position(config, 0 if position is None else 1):
            return _Result(RunOutcome.NO_ACTION, f"max_open_positions {bot.max_open_positions} reached")
        balance = self.exchange.balances(bot.market).get(info.quote_asset)
        equity = ZERO if balance is None else balance.free
        if equity <= 0:
            return _Result(RunOutcome.NO_ACTION, f"no free {info.quote_asset} to trade")
        sized = size_position(config, info, price, equity, stop_loss=decision.stop_loss)
        if isinstance(sized, SizeSkipped):
            return _Result(RunOutcome.NO_ACTION, f"{decision.action} not sized: {sized.reason}")
        if futures:
            self.exchange.set_leverage(bot.symbol, bot.leverage)
        side = OrderSide.BUY if decision.action is Action.ENTER_LONG else OrderSide.SELL
        request = OrderRequest(
            bot.market,
            bot.symbol,
            side,
            OrderType.MARKET,
            make_client_order_id(bot.id, tick_at, ENTRY),
            quantity=sized.quantity,
        )
        entry = self._record(bot, run, self.exchange.place_order(request), decision.reason)
        entry.stop_loss, entry.take_profit = decision.stop_loss, decision.take_profit
        if futures or side is not OrderSide.BUY or entry.executed_quantity <= 0 or decision.stop_loss is None:
            return _Result(RunOutcome.OK)
        return self._protect(bot, run, tick_at, info, entry, decision.stop_loss)

    def _protect(
        self, bot: Bot, run: BotRun, tick_at: datetime, info: SymbolInfo, entry: Order, stop: Decimal
    ) -> _Result:
        """Spot: a STOP_LOSS_LIMIT sell of what the entry delivered, at the stop; a refusal is noted, not fatal."""
        delivered = entry.executed_quantity - sum(
            (fill.commission for fill in entry.fills if fill.commission_asset == info.base_asset), ZERO
        )
        quantity = on_step(delivered, info)
        price = on_grid(stop, info.tick_size)
        request = OrderRequest(
            bot.market,
            bot.symbol,
            OrderSide.SELL,
            OrderType.STOP_LOSS_LIMIT,
            make_client_order_id(bot.id, tick_at, STOP),
            quantity=quantity,
            price=price,
            stop_price=price,
            time_in_force=TimeInForce.GTC,
        )
        if quantity <= 0:
            return _Result(RunOutcome.OK, "stop-loss not placed: the entry delivered less than one step")
        try:
            self._record(bot, run, self.exchange.place_order(request), "stop-loss of the entry")
        except RejectedError as exc:
            return _Result(RunOutcome.OK, f"stop-loss not placed: {describe_error(exc)}")
        return _Result(RunOutcome.OK)

    def _exit(
        self, bot: Bot, run: BotRun, tick_at: datetime, info: SymbolInfo, position: OpenPosition, decision: Decision
    ) -> _Result:
        """Cancel the bot's open protective orders, then close the position at market."""
        open_rows = self.session.scalars(
            select(Order).where(
                Order.bot_id == bot.id,
                Order.symbol == bot.symbol,
                Order.status.in_((OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)),
                Order.type != OrderType.MARKET,
            )
        )
        for row in list(open_rows):
            try:
                cancelled = self.exchange.cancel_order(row.market, row.symbol, client_order_id=row.client_order_id)
            except OrderNotFound:
                continue  # already final on the exchange: reconcile records how it ended
            self._record(bot, run, cancelled, f"cancelled to exit: {decision.reason}", link=False)
        futures = bot.market is Market.FUTURES
        side = OrderSide.SELL if position.side is SignalDirection.LONG else OrderSide.BUY
        request = OrderRequest(
            bot.market,
            bot.symbol,
            side,
            OrderType.MARKET,
            make_client_order_id(bot.id, tick_at, EXIT),
            quantity=position.quantity if futures else on_step(position.quantity, info),
            reduce_only=futures,
        )
        self._record(bot, run, self.exchange.place_order(request), decision.reason)
        return _Result(RunOutcome.OK)

    def _record(self, bot: Bot, run: BotRun, placed: ExchangeOrder, reason: str, *, link: bool = True) -> Order:
        return record_order(self.session, self.exchange, bot, run, placed, reason, link=link)


__all__ = ["BotRunner", "describe_error", "tick_minute"]
