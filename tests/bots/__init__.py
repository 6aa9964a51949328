"""Tests of the bot package: the trading path and order reconciliation."""
