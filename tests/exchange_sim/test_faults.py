"""The fault plan: selection by endpoint, call number, window, probability and cap; actions; JSON; snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradesim.exchange_sim.faults import (
    ACTION_PARAMS,
    FaultAction,
    FaultDecision,
    FaultEffect,
    FaultPlan,
    FaultPlanError,
    FaultRule,
    call_ranges,
)

ORDER = "/api/v3/order"
REPO_ROOT = Path(__file__).resolve().parents[2]


def fired(plan: FaultPlan, method: str, path: str, calls: int, now_ms: int = 0) -> list[int]:
    """The 1-based numbers of the calls that got a decision."""
    return [n for n in range(1, calls + 1) if plan.decide(method, path, now_ms) is not None]


# Selection.


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([1], [1]),
        ([2, 3], [2, 3]),
        ([[2, 4]], [2, 3, 4]),
        ([5, [1, 2]], [1, 2, 5]),
        (range(3, 5), [3, 4]),
    ],
)
def test_nth_call_selection(calls: list[object], expected: list[int]) -> None:
    plan = FaultPlan.builder().on("POST", ORDER, FaultAction.timeout(), calls=calls).build()  # type: ignore[arg-type]
    assert fired(plan, "POST", ORDER, 6) == expected


def test_calls_count_only_requests_to_the_rules_endpoint() -> None:
    plan = FaultPlan.builder().on("POST", ORDER, FaultAction.timeout(), calls=[2]).build()
    assert plan.decide("POST", ORDER, 0) is None
    assert plan.decide("GET", ORDER, 0) is None  # another method: not this endpoint's call
    assert plan.decide("POST", "/api/v3/order/test", 0) is None
    assert plan.decide("POST", ORDER, 0) is not None


@pytest.mark.parametrize(
    ("method", "pattern", "request_method", "path", "selected"),
    [
        ("POST", ORDER, "POST", ORDER, True),
        ("POST", ORDER, "post", ORDER + "?symbol=BTCUSDT", True),
        ("POST", ORDER, "POST", ORDER + "/test", False),
        ("*", "/fapi/*", "GET", "/fapi/v1/klines", True),
        ("*", "/fapi/*", "DELETE", "/fapi/v1/order", True),
        ("*", "/fapi/*", "GET", "/api/v3/klines", False),
        ("GET", "/api/v3/ticker/*", "GET", "/api/v3/ticker/24hr", True),
        ("GET", "re:/fapi/v[12]/ticker/price", "GET", "/fapi/v2/ticker/price", True),
        ("GET", "re:/fapi/v[12]/ticker/price", "GET", "/fapi/v3/ticker/price", False),
        ("GET", "re:/fapi/v1", "GET", "/fapi/v1/klines", False),  # a regex must match the whole path
    ],
)
def test_endpoint_matching(method: str, pattern: str, request_method: str, path: str, selected: bool) -> None:
    plan = FaultPlan.builder().on(method, pattern, FaultAction.timeout()).build()
    assert (plan.decide(request_method, path, 0) is not None) is selected


def test_time_window_includes_from_and_excludes_until() -> None:
    plan = FaultPlan.builder().on("*", "*", FaultAction.timeout(), from_ms=1000, until_ms=2000).build()
    assert [t for t in (0, 999, 1000, 1500, 1999, 2000, 5000) if plan.decide("GET", "/x", t)] == [1000, 1500, 1999]


def test_times_caps_how_often_a_rule_fires() -> None:
    plan = FaultPlan.builder().on("GET", "*", FaultAction.timeout(), times=2).build()
    assert fired(plan, "GET", "/api/v3/time", 5) == [1, 2]


def test_first_matching_rule_wins_and_later_rules_still_count_calls() -> None:
    plan = (
        FaultPlan.builder()
        .on("POST", ORDER, FaultAction.timestamp(), calls=[1])
        .on("POST", ORDER, FaultAction.server_error(502), calls=[1, 2])
        .build()
    )
    kinds = [getattr(plan.decide("POST", ORDER, 0), "kind", None) for _ in range(3)]
    assert kinds == ["timestamp", "server_error", None]


# Probability.


def probability_plan(seed: int) -> FaultPlan:
    return FaultPlan.builder(seed).on("*", "*", FaultAction.server_error(500), probability=0.3).build()


def decisions(plan: FaultPlan, count: int = 200) -> list[bool]:
    return [plan.decide("GET", "/api/v3/klines", n) is not None for n in range(count)]


def test_same_seed_same_decisions_and_another_seed_differs() -> None:
    first = decisions(probability_plan(7))
    assert first == decisions(probability_plan(7))
    assert first != decisions(probability_plan(8))


def test_probability_fires_about_that_often() -> None:
    share = sum(decisions(probability_plan(11), 4000)) / 4000
    assert 0.27 < share < 0.33


@pytest.mark.parametrize(("probability", "expected"), [(0.0, 0), (1.0, 50)])
def test_probability_bounds(probability: float, expected: int) -> None:
    plan = FaultPlan.builder().on("*", "*", FaultAction.timeout(), probability=probability).build()
    assert len(fired(plan, "GET", "/x", 50)) == expected


SUBPROCESS_SCRIPT = """
import json, sys
from tradesim.exchange_sim.faults import FaultPlan
plan = FaultPlan.from_json(sys.argv[1])
print(json.dumps([plan.decide("GET", "/api/v3/klines", n) is not None for n in range(300)]))
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_decisions_are_identical_in_a_subprocess_with_another_hash_seed(hash_seed: str) -> None:
    plan = probability_plan(42)
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_SCRIPT, plan.to_json()],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == decisions(probability_plan(42), 300)


# Actions.


def only_decision(action: FaultAction, path: str = ORDER) -> FaultDecision:
    decision = FaultPlan([FaultRule(action)]).decide("POST", path, 0)
    assert decision is not None
    return decision


@pytest.mark.parametrize(
    ("status", "code", "msg"),
    [
        (500, -1000, "An unknown error occurred while processing the request."),
        (502, -1001, "Internal error; unable to process your request. Please try again."),
        (503, -1001, "Internal error; unable to process your request. Please try again."),
        (504, -1001, "Internal error; unable to process your request. Please try again."),
    ],
)
def test_server_error_answers_a_json_unknown_error(status: int, code: int, msg: str) -> None:
    decision = only_decision(FaultAction.server_error(status))
    assert (decision.effect, decision.execute) == (FaultEffect.RESPOND, False)
    error = decision.error
    assert error is not None
    assert (error.http_status, error.body()) == (status, {"code": code, "msg": msg})


def test_server_error_after_execution_replaces_the_answer() -> None:
    decision = only_decision(FaultAction.server_error(502, executed=True))
    assert (decision.effect, decision.execute, decision.http_status) == (FaultEffect.REPLACE, True, 502)


def test_status_unknown_runs_the_request_then_answers_minus_1007() -> None:
    decision = only_decision(FaultAction.status_unknown())
    assert (decision.effect, decision.execute, decision.code, decision.http_status) == (
        FaultEffect.REPLACE,
        True,
        -1007,
        503,
    )
    assert decision.msg is not None
    assert "execution status unknown" in decision.msg


@pytest.mark.parametrize("executed", [False, True])
def test_timeout_never_answers(executed: bool) -> None:
    decision = only_decision(FaultAction.timeout(executed=executed))
    assert (decision.effect, decision.execute, decision.error, decision.headers) == (
        FaultEffect.TIMEOUT,
        executed,
        None,
        {},
    )


@pytest.mark.parametrize(
    ("ahead", "msg"),
    [
        (False, "Timestamp for this request is outside of the recvWindow."),
        (True, "Timestamp for this request was 1000ms ahead of the server's time."),
    ],
)
def test_timestamp_answers_minus_1021(ahead: bool, msg: str) -> None:
    decision = only_decision(FaultAction.timestamp(ahead=ahead))
    assert (decision.effect, decision.code, decision.msg, decision.http_status) == (
        FaultEffect.RESPOND,
        -1021,
        msg,
        400,
    )


def test_partial_fill_expire_is_an_order_modifier() -> None:
    decision = only_decision(FaultAction.partial_fill_expire("0.25"))
    assert (decision.effect, decision.execute, decision.partial_fill_ratio, decision.error) == (
        FaultEffect.MODIFY,
        True,
        Decimal("0.25"),
        None,
    )


@pytest.mark.parametrize(("path", "limit"), [(ORDER, 6000), ("/fapi/v1/order", 2400)])
def test_rate_limit_answers_429_with_retry_after(path: str, limit: int) -> None:
    decision = only_decision(FaultAction.rate_limit(retry_after_s=30), path)
    assert (decision.http_status, decision.code, decision.retry_after) == (429, -1003, 30)
    assert decision.headers == {"Retry-After": "30"}
    assert decision.msg is not None
    assert f"current limit is {limit} request weight" in decision.msg


def test_calling_again_within_retry_after_escalates_to_a_418_ban_that_expires() -> None:
    plan = FaultPlan.builder().on("GET", "/api/v3/klines", FaultAction.rate_limit(30, ban_s=120), calls=[1]).build()
    assert getattr(plan.decide("GET", "/api/v3/klines", 0), "http_status", None) == 429
    ban = plan.decide("GET", "/api/v3/time", 10_000)  # any endpoint: a ban is for the whole client
    assert ban is not None
    assert (ban.kind, ban.http_status, ban.code, ban.retry_after, ban.rule_index) == ("banned", 418, -1003, 120, None)
    assert ban.msg is not None
    assert "IP banned until 130000." in ban.msg
    later = plan.decide("GET", "/api/v3/time", 100_500)
    assert later is not None
    assert (later.http_status, later.retry_after) == (418, 30)
    assert plan.decide("GET", "/api/v3/time", 130_000) is None


def test_waiting_out_retry_after_avoids_the_ban() -> None:
    plan = FaultPlan.builder().on("GET", "*", FaultAction.rate_limit(30), calls=[1]).build()
    assert plan.decide("GET", "/api/v3/time", 0) is not None
    assert plan.decide("GET", "/api/v3/time", 30_000) is None


def test_rate_limit_without_escalation() -> None:
    plan = FaultPlan.builder().on("GET", "*", FaultAction.rate_limit(30, ban_s=0), calls=[1]).build()
    assert plan.decide("GET", "/api/v3/time", 0) is not None
    assert plan.decide("GET", "/api/v3/time", 1000) is None


def test_decision_error_is_a_fresh_exception_each_time() -> None:
    decision = only_decision(FaultAction.timestamp())
    assert decision.error is not decision.error


# Plain data: JSON plans and snapshots.

EXAMPLE_PLAN = {
    "seed": 9,
    "rules": [
        {"method": "POST", "path": ORDER, "calls": [1, [3, 5]], "action": {"type": "status_unknown"}},
        {"method": "*", "path": "/fapi/*", "probability": 0.1,
         "action": {"type": "server_error", "status": 502, "executed": False}},
        {"method": "GET", "path": "re:/api/v3/(klines|depth)", "from_ms": 10, "until_ms": 20, "times": 2,
         "action": {"type": "rate_limit", "retry_after_s": 5, "ban_s": 60}},
        {"method": "POST", "path": "/fapi/v1/order", "action": {"type": "partial_fill_expire", "ratio": "0.4"}},
        {"method": "GET", "path": "*", "action": {"type": "timeout", "executed": True}},
        {"method": "GET", "path": "*", "action": {"type": "timestamp", "ahead": False}},
    ],
}  # fmt: skip


def test_json_round_trip() -> None:
    plan = FaultPlan.from_dict(EXAMPLE_PLAN)
    assert plan.to_dict() == EXAMPLE_PLAN
    again = FaultPlan.from_json(plan.to_json())
    assert (again.seed, again.rules) == (plan.seed, plan.rules)


def test_builder_and_constructor_build_the_same_rules() -> None:
    built = FaultPlan.builder(9).on("POST", ORDER, FaultAction.status_unknown(), calls=[1, 3, 4, 5]).build()
    loaded = FaultPlan.from_dict({"seed": 9, "rules": EXAMPLE_PLAN["rules"][:1]})  # type: ignore[index]
    constructed = FaultPlan([FaultRule(FaultAction("status_unknown"), "POST", ORDER, ((1, 1), (3, 5)))], seed=9)
    assert built.rules == loaded.rules == constructed.rules


def test_a_bare_action_name_stands_for_its_defaults() -> None:
    plan = FaultPlan.from_dict({"rules": [{"action": "rate_limit"}]})
    assert plan.rules[0] == FaultRule(FaultAction.rate_limit(60, 120))


rule_strategy = st.builds(
    FaultRule,
    action=st.one_of(
        st.builds(FaultAction.rate_limit, st.integers(1, 600), st.integers(0, 3600)),
        st.builds(FaultAction.server_error, st.sampled_from([500, 502, 503, 504]), executed=st.booleans()),
        st.builds(FaultAction.timeout, executed=st.booleans()),
        st.just(FaultAction.status_unknown()),
        st.builds(FaultAction.timestamp, ahead=st.booleans()),
        st.builds(FaultAction.partial_fill_expire, st.decimals(0, "0.999", places=3).map(str)),
    ),
    method=st.sampled_from(["GET", "POST", "DELETE", "*"]),
    path=st.sampled_from([ORDER, "/fapi/*", "re:/api/v3/.*", "*"]),
    calls=st.lists(st.tuples(st.integers(1, 20), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))).map(
        call_ranges
    ),
    probability=st.none() | st.floats(0, 1),
    times=st.none() | st.integers(1, 10),
)


@given(rules=st.lists(rule_strategy, max_size=5), seed=st.integers(0, 2**32))
def test_any_plan_survives_a_json_round_trip(rules: list[FaultRule], seed: int) -> None:
    plan = FaultPlan(rules, seed)
    again = FaultPlan.from_json(plan.to_json())
    assert (again.seed, again.rules) == (seed, tuple(rules))


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "plan: expected an object"),
        ({"rules": {}}, "rules: expected a list of rules"),
        ({"seed": "x", "rules": []}, "seed: expected an integer, got 'x'"),
        ({"rulez": []}, "rulez: expected only 'seed' and 'rules'"),
        ({"rules": [{"path": ORDER}]}, "rules[0].action: expected a rule object with an 'action'"),
        ({"rules": [{"action": "timeout"}, {"action": "explode"}]}, "rules[1].action.type: expected one of"),
        ({"rules": [{"action": "timeout", "cals": [1]}]}, "rules[0].cals: expected a field among"),
        ({"rules": [{"action": "timeout", "calls": 2}]}, "rules[0].calls: expected a list such as [1, [3, 5]]"),
        ({"rules": [{"action": "timeout", "calls": [0]}]}, "rules[0].calls[0]: expected a call number (from 1)"),
        ({"rules": [{"action": "timeout", "calls": [1, [5, 3]]}]}, "rules[0].calls[1]: expected a call number"),
        ({"rules": [{"action": "timeout", "calls": ["2"]}]}, "rules[0].calls[0]: expected a call number"),
        ({"rules": [{"action": "timeout", "method": "PATCH"}]}, "rules[0].method: expected one of"),
        ({"rules": [{"action": "timeout", "path": "api/v3"}]}, "rules[0].path: expected '/api/v3/order'"),
        ({"rules": [{"action": "timeout", "path": "re:(("}]}, "rules[0].path: invalid regular expression"),
        ({"rules": [{"action": "timeout", "probability": 1.5}]}, "rules[0].probability: expected a number"),
        ({"rules": [{"action": "timeout", "probability": True}]}, "rules[0].probability: expected a number"),
        ({"rules": [{"action": "timeout", "from_ms": -1}]}, "rules[0].from_ms: expected an integer >= 0"),
        ({"rules": [{"action": "timeout", "from_ms": 5, "until_ms": 5}]}, "rules[0].until_ms: expected a time after"),
        ({"rules": [{"action": "timeout", "times": 0}]}, "rules[0].times: expected an integer >= 1, got 0"),
        ({"rules": [{"action": 5}]}, "rules[0].action: expected an object such as"),
        ({"rules": [{"action": {"type": ["timeout"]}}]}, "rules[0].action.type: expected one of"),
        ({"rules": [{"action": {"type": "server_error", "status": 501}}]}, "rules[0].action.status: expected one of"),
        ({"rules": [{"action": {"type": "timeout", "status": 502}}]}, "rules[0].action.status: not used by 'timeout'"),
        ({"rules": [{"action": {"type": "rate_limit", "retry_after_s": 0}}]}, "rules[0].action.retry_after_s"),
        ({"rules": [{"action": {"type": "timeout", "executed": "yes"}}]}, "rules[0].action.executed: expected true"),
        ({"rules": [{"action": {"type": "partial_fill_expire", "ratio": "1"}}]}, "rules[0].action.ratio: expected"),
        ({"rules": [{"action": {"type": "partial_fill_expire", "ratio": "x"}}]}, "rules[0].action.ratio: expected"),
    ],
)
def test_bad_plans_get_one_clear_error(plan: object, message: str) -> None:
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_dict(plan)
    assert message in str(caught.value)


def test_invalid_json_is_named() -> None:
    with pytest.raises(FaultPlanError, match="plan: not valid JSON"):
        FaultPlan.from_json("{rules: ")


def test_builder_errors_name_the_rule_index() -> None:
    builder = FaultPlan.builder().on("GET", "*", FaultAction.timeout())
    with pytest.raises(FaultPlanError, match=r"^rules\[1\]\.calls\[0\]: "):
        builder.on("GET", "*", FaultAction.timeout(), calls=[0])
    with pytest.raises(FaultPlanError, match=r"^rules\[1\]\.times: "):
        builder.on("GET", "*", FaultAction.timeout(), times=0)


def test_every_action_kind_is_covered_by_the_round_trip_example() -> None:
    kinds = {rule["action"]["type"] for rule in EXAMPLE_PLAN["rules"]}  # type: ignore[attr-defined]
    assert kinds == set(ACTION_PARAMS)


def test_snapshot_restore_continues_the_same_sequence() -> None:
    def plan() -> FaultPlan:
        return (
            FaultPlan.builder(3)
            .on("GET", "*", FaultAction.timeout(), probability=0.5, times=40)
            .on("GET", "*", FaultAction.rate_limit(1, ban_s=2), calls=[[60, 61]])
            .build()
        )

    reference = plan()
    expected = [getattr(reference.decide("GET", "/x", n * 10), "kind", None) for n in range(100)]

    first = plan()
    head = [getattr(first.decide("GET", "/x", n * 10), "kind", None) for n in range(60)]
    state = json.loads(json.dumps(first.snapshot()))
    second = plan()
    second.restore(state)
    tail = [getattr(second.decide("GET", "/x", n * 10), "kind", None) for n in range(60, 100)]
    assert head + tail == expected
    assert "banned" in expected  # the snapshot carried an escalation state across


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"calls": [1], "fires": [0, 0]}, "snapshot.calls"),
        ({"calls": [1, 2], "fires": [0, -1]}, "snapshot.fires"),
        ({"calls": [1, 2], "fires": [0, 0], "backoff_until_ms": "soon", "backoff_ban_ms": 0}, "snapshot.backoff_until"),
        ({"calls": [1, 2], "fires": [0, 0], "ban_until_ms": None}, "snapshot.backoff_ban_ms"),
    ],
)
def test_bad_snapshots_are_refused(state: dict[str, object], field: str) -> None:
    plan = FaultPlan.builder().on("*", "*", FaultAction.timeout()).on("*", "*", FaultAction.timestamp()).build()
    with pytest.raises(FaultPlanError, match=f"^{field}"):
        plan.restore(state)


def test_an_empty_plan_never_interferes() -> None:
    plan = FaultPlan()
    assert [plan.decide("POST", ORDER, n) for n in range(5)] == [None] * 5
    assert plan.snapshot()["calls"] == []
