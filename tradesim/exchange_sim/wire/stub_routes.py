"""Empty-by-design answers to what ccxt's ``load_markets`` asks beyond /api and /fapi (binance-api-subset.md §2).

With its default options and API keys, ccxt's ``binance`` also fetches the
currency list, the margin pairs and the coin-margined (dapi) markets before it
will trade. The venue has no wallet, margin or COIN-M market, so these answer
as an exchange with none would: ``[]`` for the three /sapi calls and a dapi
exchangeInfo without symbols. They exist only so that clients run unchanged;
their content is empty on purpose, not unbuilt. (Alternatively, ccxt can skip
them with ``options={'fetchCurrencies': False, 'fetchMargins': False}``.)

Security: the capital config is USER_DATA (signed), as on Binance; the margin
pair lists are MARKET_DATA (an API key is required; the signature ccxt sends
with every /sapi call is not checked).
"""

from __future__ import annotations

from tradesim.exchange_sim.wire.routing import Call, RouteTable

STUBS = RouteTable("stubs")


@STUBS.add("GET", "/sapi/v1/capital/config/getall", "USER_DATA")
def capital_config(call: Call) -> object:
    return []


@STUBS.add("GET", "/sapi/v1/margin/allPairs", "MARKET_DATA")
def margin_pairs(call: Call) -> object:
    return []


@STUBS.add("GET", "/sapi/v1/margin/isolated/allPairs", "MARKET_DATA")
def isolated_margin_pairs(call: Call) -> object:
    return []


@STUBS.add("GET", "/dapi/v1/exchangeInfo")
def coin_margined_exchange_info(call: Call) -> object:
    return {"timezone": "UTC", "serverTime": call.now_ms, "rateLimits": [], "exchangeFilters": [], "symbols": []}
