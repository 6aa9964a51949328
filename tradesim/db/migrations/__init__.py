"""Alembic migrations for the tradesim schema (run with `tradesim db upgrade`)."""
