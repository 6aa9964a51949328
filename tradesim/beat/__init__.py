"""The beat schedule table and the beat leader logic."""
