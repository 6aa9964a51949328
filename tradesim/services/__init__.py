"""Domain services the tasks call: plain functions of sessions, exchange, Redis and ``now``."""
