"""The demo's bots: several strategies on spot and futures, each on a symbol of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tradesim.db.models import Bot
from tradesim.domain.enums import Market

# Symbols the default universe lists on both markets; one bot per (market, symbol), so no two bots
# share a futures position (the demo's bots trade from one account, as the seed systems' do).
DEMO_SYMBOLS = (
    "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT",
    "LINKUSDT", "DOTUSDT", "LTCUSDT", "TRXUSDT", "ATOMUSDT", "NEARUSDT", "UNIUSDT", "ETCUSDT",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoBot:
    """One demo bot's settings."""

    strategy: str
    market: Market
    symbol: str
    params: dict[str, Any] = field(default_factory=dict)
    leverage: int = 1

    @property
    def name(self) -> str:
        return f"demo-{self.strategy}-{self.market}-{self.symbol}"


# The recipe repeats over the symbols: trend and reversion on both markets, and scanner followers on spot.
RECIPE: tuple[tuple[str, Market, dict[str, Any], int], ...] = (
    ("ema_rsi_atr", Market.SPOT, {}, 1),
    ("ema_rsi_atr", Market.FUTURES, {}, 3),
    ("bollinger_reversion", Market.SPOT, {"nbdev": 2.0}, 1),
    ("bollinger_reversion", Market.FUTURES, {"nbdev": 2.0}, 2),
    ("signal_follower", Market.SPOT, {"min_confidence": 0.7}, 1),
)


def demo_bots(count: int, symbols: tuple[str, ...] = DEMO_SYMBOLS) -> list[DemoBot]:
    """``count`` bots cycling through the recipe, each on its own (market, symbol)."""
    if count < 1:
        raise ValueError(f"--bots must be at least 1, got {count}")
    if count > len(symbols) * 2:
        raise ValueError(f"--bots can be at most {len(symbols) * 2} (one per market and symbol), got {count}")
    bots: list[DemoBot] = []
    taken: set[tuple[Market, str]] = set()
    index = 0
    while len(bots) < count:
        strategy, market, params, leverage = RECIPE[len(bots) % len(RECIPE)]
        symbol = symbols[index % len(symbols)]
        index += 1
        if (market, symbol) in taken:
            continue
        taken.add((market, symbol))
        bots.append(DemoBot(strategy, market, symbol, dict(params), leverage))
    return bots


def create_bots(session: Session, bots: list[DemoBot], *, quote_amount: Decimal, at: datetime) -> list[int]:
    """Insert the demo bots; their ids, in order. The caller commits."""
    rows = [
        Bot(
            name=bot.name,
            market=bot.market,
            symbol=bot.symbol,
            strategy=bot.strategy,
            strategy_params=bot.params,
            max_position_quote=quote_amount,
            daily_loss_limit=quote_amount / 10,
            leverage=bot.leverage,
            created_at=at,
        )
        for bot in bots
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]
