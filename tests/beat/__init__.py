"""Tests for the beat schedule table and its behaviour under Celery's own schedulers."""
