"""Backtests that replay the bot runner tick by tick on a simulated clock."""
