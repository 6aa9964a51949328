"""Domain value types shared by every layer (candles, symbols, orders, fills, balances, positions)."""
