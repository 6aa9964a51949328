"""The exchange port: the ExchangeClient protocol, its adapters and the factory by URL."""
