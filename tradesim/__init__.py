"""tradesim: a Celery + Redis trading-bot system run against a deterministic Binance simulator."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradesim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
