"""The exchange port: the ExchangeClient protocol, its adapters and the factory by URL."""

# Only the protocol here: importing this package must not load the simulator or requests (bots import it and
# must never reach the simulator). The factory is ``tradesim.exchange.factory.open_exchange``.
from tradesim.exchange.port import ExchangeClient

__all__ = ["ExchangeClient"]
