"""Live notifications: relay the Redis channel ``tradesim:signals`` to WebSocket clients (``tradesim notify serve``)."""
