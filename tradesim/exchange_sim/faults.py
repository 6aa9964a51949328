"""A deterministic, scriptable fault plan: ordered rules that pick requests and the failure each one gets.

The wire asks ``plan.decide(method, path, now_ms)`` before executing every request. A rule
selects by endpoint (exact path, glob, or ``re:`` regex), by the nth call of that endpoint
(counted per rule, whether or not the rule fires), by a time window in ms of whatever clock
the wire passes, by a seeded probability and by a ``times`` cap; the first rule that selects
the request decides. Probabilities come from sha256 of (seed, rule index, call number), so a
plan replays identically in any process. An injected 429 arms a plan-wide ban, as Binance's
is IP-wide: any request within its Retry-After gets 418 for the rule's ``ban_s``.

Injected 5xx answers carry a JSON body, not HTML (Binance sends both): 500 carries -1000 and
502/503/504 carry -1001, so every client's error parser sees a Binance-shaped body.

Actions, rules and decisions are defined in ``fault_rules``; this module re-exports them with the plan.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError
from tradesim.exchange_sim.fault_rules import (
    ACTION_PARAMS,
    HTTP_METHODS,
    SERVER_ERROR_STATUSES,
    CallSpec,
    FaultAction,
    FaultDecision,
    FaultEffect,
    FaultPlanError,
    FaultRule,
    call_ranges,
    is_int,
    path_matcher,
    require,
)

__all__ = [
    "ACTION_PARAMS",
    "FUTURES_WEIGHT_LIMIT",
    "HTTP_METHODS",
    "SERVER_ERROR_STATUSES",
    "SPOT_WEIGHT_LIMIT",
    "CallSpec",
    "FaultAction",
    "FaultDecision",
    "FaultEffect",
    "FaultPlan",
    "FaultPlanBuilder",
    "FaultPlanError",
    "FaultRule",
    "call_ranges",
    "path_matcher",
    "probability_draw",
    "unknown_error",
]

SPOT_WEIGHT_LIMIT = 6000
FUTURES_WEIGHT_LIMIT = 2400


def unknown_error(status: int) -> VenueError:
    """The JSON body chosen for injected 5xx answers (see the module docstring)."""
    if status == 500:
        return VenueError(-1000, "An unknown error occurred while processing the request.", status)
    return VenueError(-1001, "Internal error; unable to process your request. Please try again.", status)


def probability_draw(seed: int, rule_index: int, call_number: int) -> float:
    """A uniform number in [0, 1) that depends only on its arguments (sha256, not ``hash()``)."""
    digest = hashlib.sha256(f"tradesim.faults/{seed}/{rule_index}/{call_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FaultPlan:
    """Ordered fault rules plus their call counters; the first rule that selects a request wins."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._rules = tuple(rules)
        require(is_int(seed), "seed", "an integer", seed)
        for index, rule in enumerate(self._rules):
            require(isinstance(rule, FaultRule), f"rules[{index}]", "a FaultRule", rule)
        self._seed = seed
        self._matchers = tuple((rule.method, path_matcher(rule.path)) for rule in self._rules)
        self._lock = threading.Lock()
        self._calls = [0] * len(self._rules)
        self._fires = [0] * len(self._rules)
        self._backoff_until_ms: int | None = None  # the Retry-After end of the last injected 429
        self._backoff_ban_ms = 0
        self._ban_until_ms: int | None = None

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    @property
    def seed(self) -> int:
        return self._seed

    @classmethod
    def builder(cls, seed: int = 0) -> FaultPlanBuilder:
        return FaultPlanBuilder(seed)

    def decide(self, method: str, path: str, now_ms: int) -> FaultDecision | None:
        """Count the request against every rule whose endpoint matches and say what happens to it."""
        method = method.upper()
        path = path.split("?", 1)[0]
        with self._lock:
            matching = [
                index
                for index, (rule_method, matches) in enumerate(self._matchers)
                if rule_method in ("*", method) and matches(path)
            ]
            for index in matching:
                self._calls[index] += 1
            banned = self._ban(now_ms)
            if banned is not None:
                return banned
            for index in matching:
                if self._selects(index, now_ms):
                    self._fires[index] += 1
                    return self._act(index, path, now_ms)
        return None

    def _ban(self, now_ms: int) -> FaultDecision | None:
        """Binance bans (418) a client that calls again within a 429's Retry-After; the plan does too."""
        if self._backoff_until_ms is not None and now_ms < self._backoff_until_ms and self._backoff_ban_ms > 0:
            self._ban_until_ms = now_ms + self._backoff_ban_ms
            self._backoff_until_ms = None
        if self._ban_until_ms is None or now_ms >= self._ban_until_ms:
            return None
        retry_after = max(1, math.ceil((self._ban_until_ms - now_ms) / 1000))
        error = errors.banned(self._ban_until_ms, retry_after)
        return FaultDecision.answering("banned", FaultEffect.RESPOND, None, error)

    def _selects(self, index: int, now_ms: int) -> bool:
        rule = self._rules[index]
        call = self._calls[index]
        if rule.calls and not any(first <= call <= last for first, last in rule.calls):
            return False
        if rule.from_ms is not None and now_ms < rule.from_ms:
            return False
        if rule.until_ms is not None and now_ms >= rule.until_ms:
            return False
        if rule.times is not None and self._fires[index] >= rule.times:
            return False
        return rule.probability is None or probability_draw(self._seed, index, call) < rule.probability

    def _act(self, index: int, path: str, now_ms: int) -> FaultDecision:
        action = self._rules[index].action
        if action.kind == "rate_limit":
            self._backoff_until_ms = now_ms + action.retry_after_s * 1000
            self._backoff_ban_ms = action.ban_s * 1000
            limit = FUTURES_WEIGHT_LIMIT if path.startswith("/fapi/") else SPOT_WEIGHT_LIMIT
            error = errors.too_much_weight(limit, action.retry_after_s)
            return FaultDecision.answering(action.kind, FaultEffect.RESPOND, index, error)
        if action.kind == "server_error":
            effect = FaultEffect.REPLACE if action.executed else FaultEffect.RESPOND
            return FaultDecision.answering(action.kind, effect, index, unknown_error(action.status))
        if action.kind == "status_unknown":
            return FaultDecision.answering(action.kind, FaultEffect.REPLACE, index, errors.execution_status_unknown())
        if action.kind == "timestamp":
            error = errors.ahead_of_server() if action.ahead else errors.outside_recv_window()
            return FaultDecision.answering(action.kind, FaultEffect.RESPOND, index, error)
        if action.kind == "timeout":
            return FaultDecision(action.kind, FaultEffect.TIMEOUT, action.executed, index)
        return FaultDecision(action.kind, FaultEffect.MODIFY, True, index, partial_fill_ratio=action.ratio)

    # Plain data in and out: plan files, and the counters for the simulator's state snapshot.

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self._seed, "rules": [rule.to_json() for rule in self._rules]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: object) -> FaultPlan:
        require(isinstance(data, dict), "plan", 'an object {"seed": 0, "rules": [...]}', data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        for name in data:
            require(name in ("seed", "rules"), name, "only 'seed' and 'rules' at the top level", "unknown field")
        rules_data = data.get("rules", [])
        require(isinstance(rules_data, list), "rules", "a list of rules", rules_data)
        rules = []
        for index, rule_data in enumerate(rules_data):
            try:
                rules.append(FaultRule.from_json(rule_data))
            except FaultPlanError as exc:
                raise exc.within(f"rules[{index}]") from None
        return cls(rules, seed=data.get("seed", 0))

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultPlanError("plan", f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": list(self._calls),
                "fires": list(self._fires),
                "backoff_until_ms": self._backoff_until_ms,
                "backoff_ban_ms": self._backoff_ban_ms,
                "ban_until_ms": self._ban_until_ms,
            }

    def restore(self, state: Mapping[str, Any]) -> None:
        count = len(self._rules)
        for name in ("calls", "fires"):
            value = state.get(name)
            ok = isinstance(value, list) and len(value) == count and all(is_int(n, 0) for n in value)
            require(ok, f"snapshot.{name}", f"{count} counts, one per rule", value)
        for name in ("backoff_until_ms", "ban_until_ms"):
            value = state.get(name)
            require(value is None or is_int(value), f"snapshot.{name}", "an integer or null", value)
        require(
            is_int(state.get("backoff_ban_ms"), 0),
            "snapshot.backoff_ban_ms",
            "an integer",
            state.get("backoff_ban_ms"),
        )
        with self._lock:
            self._calls = list(state["calls"])
            self._fires = list(state["fires"])
            self._backoff_until_ms = state.get("backoff_until_ms")
            self._backoff_ban_ms = state["backoff_ban_ms"]
            self._ban_until_ms = state.get("ban_until_ms")

    def __repr__(self) -> str:
        return f"FaultPlan(seed={self._seed}, rules={len(self._rules)})"


class FaultPlanBuilder:
    """``FaultPlan.builder().on("POST", "/api/v3/order", FaultAction.status_unknown(), calls=[1]).build()``."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rules: list[FaultRule] = []

    def on(
        self,
        method: str,
        path: str,
        action: FaultAction,
        *,
        calls: Iterable[CallSpec] | range = (),
        probability: float | None = None,
        from_ms: int | None = None,
        until_ms: int | None = None,
        times: int | None = None,
    ) -> FaultPlanBuilder:
        """Add a rule; its errors name it by its index, as a plan file's would."""
        try:
            ranges = call_ranges(calls)
            self._rules.append(FaultRule(action, method, path, ranges, probability, from_ms, until_ms, times))
        except FaultPlanError as exc:
            raise exc.within(f"rules[{len(self._rules)}]") from None
        return self

    def build(self) -> FaultPlan:
        return FaultPlan(self._rules, seed=self._seed)
