"""The venue: a deterministic Binance (spot and USD-M futures) that speaks Binance's wire."""
