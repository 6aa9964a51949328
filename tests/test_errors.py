"""The exception tree: what each branch tells the caller to do, and the exchange's code kept."""

from __future__ import annotations

import pytest

from tradesim.errors import ConfigError, FatalError, RejectedError, TemporaryError, TradesimError


@pytest.mark.parametrize("error_type", [TemporaryError, RejectedError, FatalError, ConfigError])
def test_every_error_is_a_tradesim_error(error_type: type[TradesimError]) -> None:
    assert issubclass(error_type, TradesimError)


def test_branches_are_disjoint() -> None:
    branches = (TemporaryError, RejectedError, FatalError)

    for branch in branches:
        others = tuple(b for b in branches if b is not branch)
        assert not issubclass(branch, others)


def test_exchange_code_and_message_are_kept_and_shown() -> None:
    error = RejectedError("order refused", code=-1013, msg="Filter failure: LOT_SIZE")

    assert (error.code, error.msg) == (-1013, "Filter failure: LOT_SIZE")
    assert str(error) == "order refused (code -1013: Filter failure: LOT_SIZE)"


def test_temporary_error_carries_retry_after() -> None:
    error = TemporaryError("rate limited", code=-1003, msg="Too many requests", retry_after=7.0)

    assert error.retry_after == 7.0


def test_config_error_is_fatal_and_names_the_variable() -> None:
    error = ConfigError("invalid configuration: TOP_PAIRS: ...", variable="TOP_PAIRS")

    assert isinstance(error, FatalError)
    assert error.variable == "TOP_PAIRS"
    assert str(error) == "invalid configuration: TOP_PAIRS: ..."
