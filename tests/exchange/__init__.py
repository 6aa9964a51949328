"""Tests of the exchange port: the in-process simulator client, the REST client and the factory."""
