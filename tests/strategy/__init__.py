"""Tests of the pure strategy layer: indicators and signals."""
