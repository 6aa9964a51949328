"""``tradesim demo``: the whole system on a simulated day in one process."""
