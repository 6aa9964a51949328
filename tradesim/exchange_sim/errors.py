"""Binance's error answers as the venue gives them: HTTP status, code and the exact message.

The simulator raises ``VenueError``; the wire layer turns it into
``{"code": ..., "msg": ...}`` with the status. Messages follow
binance-api-subset.md §5 letter for letter, because clients match on them.
"""

from __future__ import annotations


class VenueError(Exception):
    """A refusal by the venue, carrying what Binance would answer."""

    def __init__(self, code: int, msg: str, http_status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


LEGAL_NUMBER = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"


def invalid_symbol() -> VenueError:
    return VenueError(-1121, "Invalid symbol.")


def illegal_characters(parameter: str, legal: str = LEGAL_NUMBER) -> VenueError:
    return VenueError(-1100, f"Illegal characters found in parameter '{parameter}'; legal range is '{legal}'.")


def mandatory_missing(parameter: str) -> VenueError:
    return VenueError(-1102, f"Mandatory parameter '{parameter}' was not sent, was empty/null, or malformed.")


def one_of_missing(first: str, second: str) -> VenueError:
    return VenueError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def not_required(parameter: str) -> VenueError:
    return VenueError(-1106, f"Parameter '{parameter}' sent when not required.")


def too_much_precision_spot(parameter: str) -> VenueError:
    return VenueError(-1111, f"Parameter '{parameter}' has too much precision.")


def too_much_precision_futures() -> VenueError:
    return VenueError(-1111, "Precision is over the maximum defined for this asset.")


def invalid_time_in_force() -> VenueError:
    return VenueError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> VenueError:
    return VenueError(-1116, "Invalid orderType.")


def invalid_side() -> VenueError:
    return VenueError(-1117, "Invalid side.")


def invalid_interval() -> VenueError:
    return VenueError(-1120, "Invalid interval.")


def filter_failure(filter_type: str) -> VenueError:
    """Spot only: futures answers filter violations with its own -4xxx codes."""
    return VenueError(-1013, f"Filter failure: {filter_type}")


def insufficient_balance() -> VenueError:
    return VenueError(-2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> VenueError:
    return VenueError(-2010, "Duplicate order sent.")


def unknown_order() -> VenueError:
    return VenueError(-2011, "Unknown order sent.")


def order_does_not_exist() -> VenueError:
    return VenueError(-2013, "Order does not exist.")


def bad_signature() -> VenueError:
    return VenueError(-1022, "Signature for this request is not valid.")


def outside_recv_window() -> VenueError:
    return VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> VenueError:
    return VenueError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def api_key_format_invalid() -> VenueError:
    return VenueError(-2014, "API-key format invalid.", http_status=401)


def invalid_api_key() -> VenueError:
    return VenueError(-2015, "Invalid API-key, IP, or permissions for action.", http_status=401)


def too_much_weight(limit: int, retry_after: int) -> VenueError:
    return VenueError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        http_status=429,
        retry_after=retry_after,
    )


def banned(until_ms: int, retry_after: int) -> VenueError:
    return VenueError(
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
        http_status=418,
        retry_after=retry_after,
    )


def too_many_orders(limit: int, interval: str) -> VenueError:
    return VenueError(-1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429)


def execution_status_unknown() -> VenueError:
    return VenueError(
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        http_status=503,  # a 5xx: Binance says the execution status is then UNKNOWN
    )


def book_too_thin() -> VenueError:
    return VenueError(-2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity.")


# Futures (USD-M) codes.


def margin_insufficient() -> VenueError:
    return VenueError(-2019, "Margin is insufficient.")


def futures_min_notional(notional: str) -> VenueError:
    return VenueError(-4164, f"Order's notional must be no smaller than {notional} (unless you choose reduce only).")


def price_not_on_tick() -> VenueError:
    return VenueError(-4014, "Price not increased by tick size.")


def qty_not_on_step() -> VenueError:
    return VenueError(-4023, "Qty not increased by step size.")


def qty_below_min() -> VenueError:
    return VenueError(-4004, "Quantity less than min quantity.")


def qty_above_max() -> VenueError:
    return VenueError(-4005, "Quantity greater than max quantity.")


def qty_not_positive() -> VenueError:
    return VenueError(-4003, "Quantity less than zero.")


def price_below_min() -> VenueError:
    return VenueError(-4013, "Price less than min price.")


def price_above_cap() -> VenueError:
    return VenueError(-4016, "Price is higher than mark price multiplier cap.")


def price_below_floor() -> VenueError:
    return VenueError(-4024, "Price is lower than mark price multiplier floor.")


def market_beyond_percent_price() -> VenueError:
    return VenueError(-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit.")


def reduce_only_rejected() -> VenueError:
    return VenueError(-2022, "ReduceOnly Order is rejected.")


def position_side_mismatch() -> VenueError:
    return VenueError(-4061, "Order's position side does not match user's setting.")


def client_order_id_duplicated() -> VenueError:
    return VenueError(-4116, "clientOrderId is duplicated.")


def leverage_not_valid(leverage: int) -> VenueError:
    return VenueError(-4028, f"Leverage {leverage} is not valid")


def no_need_to_change_margin_type() -> VenueError:
    return VenueError(-4046, "No need to change margin type.")


def no_need_to_change_position_side() -> VenueError:
    return VenueError(-4059, "No need to change position side.")
