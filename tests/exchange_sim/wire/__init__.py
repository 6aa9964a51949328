"""Tests of the simulator's wire transport: parameters, signatures, the requests adapter and the HTTP server."""
