"""The one beat schedule table: what Celery beat sends, how often, and when each send goes stale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery.schedules import crontab, schedule

from tradesim.config import Settings

# Periods in seconds. The crontab entries are listed by the cadence their cron line gives.
BOTS_PERIOD_SECONDS = 60
REACTIVATION_PERIOD_SECONDS = 24 * 60 * 60
WARMUP_PERIOD_SECONDS = 300
FULL_REFRESH_PERIOD_SECONDS = 60 * 60
NOTIFICATIONS_PERIOD_SECONDS = 120
CLEANUP_PERIOD_SECONDS = 300
HEALTH_PERIOD_SECONDS = 600

# A send still queued when the next send of the same entry is due is only a duplicate: it expires
# this many seconds before then, which leaves room for clock skew between the beat and the workers.
EXPIRY_MARGIN_SECONDS = 5

RUN_ALL_ACTIVE_BOTS = "run-all-active-bots"
REACTIVATE_BOTS_DAILY = "reactivate-bots-daily"
WARMUP_SPOT_SYMBOLS_CACHE = "warmup-spot-symbols-cache"
WARMUP_FUTURES_SYMBOLS_CACHE = "warmup-futures-symbols-cache"
SCAN_BINANCE_MARKET = "scan-binance-market"
FULL_DATA_REFRESH = "full-data-refresh"
SEND_SIGNAL_NOTIFICATIONS = "send-signal-notifications"
CLEANUP_EXPIRED_SIGNALS = "cleanup-expired-signals"
SYSTEM_HEALTH_CHECK = "system-health-check"

# Entry name → the full dotted name of the task it sends.
ENTRY_TASKS: dict[str, str] = {
    RUN_ALL_ACTIVE_BOTS: "tradesim.tasks.bots.run_all_active_bots",
    REACTIVATE_BOTS_DAILY: "tradesim.tasks.maintenance.reactivate_bots_daily",
    WARMUP_SPOT_SYMBOLS_CACHE: "tradesim.tasks.cache.warmup_spot_symbols_cache",
    WARMUP_FUTURES_SYMBOLS_CACHE: "tradesim.tasks.cache.warmup_futures_symbols_cache",
    SCAN_BINANCE_MARKET: "tradesim.tasks.scanner.scan_binance_market",
    FULL_DATA_REFRESH: "tradesim.tasks.signals.full_data_refresh",
    SEND_SIGNAL_NOTIFICATIONS: "tradesim.tasks.notifications.send_signal_notifications",
    CLEANUP_EXPIRED_SIGNALS: "tradesim.tasks.signals.cleanup_expired_signals",
    SYSTEM_HEALTH_CHECK: "tradesim.tasks.health.system_health_check",
}


def expires_after(period_seconds: int) -> int:
    """Seconds after which a send of an entry with this period is dropped unrun.

    Five seconds short of the period, so a backlog never runs two sends of one entry back to
    back; never less than half the period, so a short polling interval still gets a window.
    """
    return max(period_seconds - EXPIRY_MARGIN_SECONDS, (period_seconds + 1) // 2)


def entry_periods(settings: Settings) -> dict[str, int]:
    """Entry name → how many seconds apart its sends are (the cron cadence for crontab entries)."""
    return {
        RUN_ALL_ACTIVE_BOTS: BOTS_PERIOD_SECONDS,
        REACTIVATE_BOTS_DAILY: REACTIVATION_PERIOD_SECONDS,
        WARMUP_SPOT_SYMBOLS_CACHE: WARMUP_PERIOD_SECONDS,
        WARMUP_FUTURES_SYMBOLS_CACHE: WARMUP_PERIOD_SECONDS,
        SCAN_BINANCE_MARKET: settings.polling_interval,
        FULL_DATA_REFRESH: FULL_REFRESH_PERIOD_SECONDS,
        SEND_SIGNAL_NOTIFICATIONS: NOTIFICATIONS_PERIOD_SECONDS,
        CLEANUP_EXPIRED_SIGNALS: CLEANUP_PERIOD_SECONDS,
        SYSTEM_HEALTH_CHECK: HEALTH_PERIOD_SECONDS,
    }


def beat_schedule(settings: Settings, *, nowfun: Callable[[], datetime] | None = None) -> dict[str, dict[str, Any]]:
    """The ``beat_schedule`` table built from ``settings``.

    Crontab lines are read in the app's timezone, which ``celery_config`` pins to UTC. ``nowfun``
    lets a simulated clock drive every entry (the demo); a persistent schedule store pickles it,
    so with ``PersistentScheduler`` it must be a module-level function.
    """

    def cron(minute: str, hour: str) -> crontab:
        return crontab(minute=minute, hour=hour, nowfun=nowfun)

    def every(seconds: int) -> schedule:
        return schedule(run_every=seconds, nowfun=nowfun)

    schedules: dict[str, crontab | schedule] = {
        RUN_ALL_ACTIVE_BOTS: cron("*", "*"),
        REACTIVATE_BOTS_DAILY: cron("0", "0"),
        WARMUP_SPOT_SYMBOLS_CACHE: every(WARMUP_PERIOD_SECONDS),
        WARMUP_FUTURES_SYMBOLS_CACHE: every(WARMUP_PERIOD_SECONDS),
        SCAN_BINANCE_MARKET: every(settings.polling_interval),
        FULL_DATA_REFRESH: cron("0", "*"),
        SEND_SIGNAL_NOTIFICATIONS: every(NOTIFICATIONS_PERIOD_SECONDS),
        CLEANUP_EXPIRED_SIGNALS: every(CLEANUP_PERIOD_SECONDS),
        SYSTEM_HEALTH_CHECK: every(HEALTH_PERIOD_SECONDS),
    }
    periods = entry_periods(settings)
    return {
        name: {
            "task": ENTRY_TASKS[name],
            "schedule": entry_schedule,
            "options": {"expires": expires_after(periods[name])},
        }
        for name, entry_schedule in schedules.items()
    }
