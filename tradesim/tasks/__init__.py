"""Celery tasks, one module per concern; each is thin: ids in, domain call, commit, follow-ups."""
