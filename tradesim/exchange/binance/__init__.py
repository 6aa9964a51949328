"""Binance over REST: signing, time offset, rate-limit headers, parsing and the error table."""
