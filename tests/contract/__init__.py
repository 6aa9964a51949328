"""The exchange contract suite: one set of behaviours that every ``ExchangeClient`` implementation must show."""
