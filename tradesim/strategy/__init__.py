"""Indicators, signals, risk sizing and the strategy registry: pure functions, no I/O."""
