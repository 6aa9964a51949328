"""The one trading path: a bot's tick, and reconciliation of recorded orders with the exchange."""
