"""tradesim tests: unit tests mirror the package tree; integration tests use real services."""
