"""Integration tests with real Redis, real celery worker processes and PostgreSQL."""
