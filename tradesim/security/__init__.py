"""Secrets tradesim keeps on behalf of its bots: exchange API credentials sealed at rest."""
