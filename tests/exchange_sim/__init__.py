"""Tests of the Binance simulator, mirroring tradesim/exchange_sim."""
