"""Unit tests of tradesim.db on SQLite and, when reachable, PostgreSQL."""
