"""Persistence: typed SQLAlchemy models, sessions and Alembic migrations."""
