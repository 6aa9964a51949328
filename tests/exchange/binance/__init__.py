"""Tests of the Binance REST client: transport, parsing, error mapping, and the client against the simulator."""
