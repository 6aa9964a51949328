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
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Union

from tradesim.exchange_sim import errors
from tradesim.exchange_sim.errors import VenueError

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
SPOT_WEIGHT_LIMIT = 6000
FUTURES_WEIGHT_LIMIT = 2400
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "rate_limit": ("retry_after_s", "ban_s"),
    "server_error": ("status", "executed"),
    "timeout": ("executed",),
    "status_unknown": (),
    "timestamp": ("ahead",),
    "partial_fill_expire": ("ratio",),
}


class FaultPlanError(ValueError):
    """A malformed fault plan or snapshot; ``field`` says where, e.g. ``rules[2].calls``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def within(self, prefix: str) -> FaultPlanError:
        return FaultPlanError(f"{prefix}.{self.field}", self.problem)


def _check(ok: bool, field: str, expected: str, value: object) -> None:
    if not ok:
        raise FaultPlanError(field, f"expected {expected}, got {value!r}")


def _is_int(value: object, minimum: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


def _decimal(value: object, field: str) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise InvalidOperation
        return Decimal(str(value))
    except InvalidOperation:
        raise FaultPlanError(field, f'expected a decimal string such as "0.5", got {value!r}') from None


@dataclass(frozen=True)
class FaultAction:
    """What a selected request gets: a ``kind`` of ACTION_PARAMS and the parameters that kind reads."""

    kind: str
    retry_after_s: int = 60  # rate_limit: the Retry-After of the 429
    ban_s: int = 120  # rate_limit: the 418 ban for calling again within Retry-After; 0 = never
    status: int = 503  # server_error: 500, 502, 503 or 504
    executed: bool = False  # server_error, timeout: the request runs first, as it may on Binance
    ahead: bool = False  # timestamp: "1000ms ahead of the server" instead of "outside of the recvWindow"
    ratio: Decimal = Decimal("0.5")  # partial_fill_expire: the share of the quantity filled before expiry

    def __post_init__(self) -> None:
        known = isinstance(self.kind, str) and self.kind in ACTION_PARAMS
        _check(known, "action.type", f"one of {list(ACTION_PARAMS)}", self.kind)
        reads = ACTION_PARAMS[self.kind]
        for spec in fields(self)[1:]:
            if spec.name not in reads and getattr(self, spec.name) != spec.default:
                raise FaultPlanError(f"action.{spec.name}", f"not used by {self.kind!r}; it reads {list(reads)}")
        _check(_is_int(self.retry_after_s, 1), "action.retry_after_s", "an integer >= 1", self.retry_after_s)
        _check(_is_int(self.ban_s, 0), "action.ban_s", "an integer >= 0", self.ban_s)
        statuses = list(SERVER_ERROR_STATUSES)
        _check(_is_int(self.status) and self.status in statuses, "action.status", f"one of {statuses}", self.status)
        _check(isinstance(self.executed, bool), "action.executed", "true or false", self.executed)
        _check(isinstance(self.ahead, bool), "action.ahead", "true or false", self.ahead)
        ratio = self.ratio
        ok = isinstance(ratio, Decimal) and ratio.is_finite() and Decimal(0) <= ratio < Decimal(1)
        _check(ok, "action.ratio", 'a decimal in [0, 1) such as "0.5"', ratio)

    @classmethod
    def rate_limit(cls, retry_after_s: int = 60, ban_s: int = 120) -> FaultAction:
        return cls("rate_limit", retry_after_s=retry_after_s, ban_s=ban_s)

    @classmethod
    def server_error(cls, status: int = 503, *, executed: bool = False) -> FaultAction:
        return cls("server_error", status=status, executed=executed)

    @classmethod
    def timeout(cls, *, executed: bool = False) -> FaultAction:
        return cls("timeout", executed=executed)

    @classmethod
    def status_unknown(cls) -> FaultAction:
        return cls("status_unknown")

    @classmethod
    def timestamp(cls, *, ahead: bool = False) -> FaultAction:
        return cls("timestamp", ahead=ahead)

    @classmethod
    def partial_fill_expire(cls, ratio: Decimal | str) -> FaultAction:
        return cls("partial_fill_expire", ratio=_decimal(ratio, "action.ratio"))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind}
        for name in ACTION_PARAMS[self.kind]:
            value = getattr(self, name)
            data[name] = format(value, "f") if isinstance(value, Decimal) else value
        return data

    @classmethod
    def from_json(cls, data: object) -> FaultAction:
        """Read ``{"type": "server_error", "status": 502}``; a bare type name stands for its defaults."""
        if isinstance(data, str):
            data = {"type": data}
        _check(isinstance(data, dict) and "type" in data, "action", 'an object such as {"type": "timeout"}', data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        kind = data["type"]
        _check(isinstance(kind, str) and kind in ACTION_PARAMS, "action.type", f"one of {list(ACTION_PARAMS)}", kind)
        params = {name: value for name, value in data.items() if name != "type"}
        for name in params:
            if name not in ACTION_PARAMS[kind]:
                raise FaultPlanError(f"action.{name}", f"not used by {kind!r}; it reads {list(ACTION_PARAMS[kind])}")
        if "ratio" in params:
            params["ratio"] = _decimal(params["ratio"], "action.ratio")
        return cls(kind, **params)


CallSpec = Union[int, tuple[int, int], list[int]]  # noqa: UP007 (a runtime alias on Python 3.10)


def call_ranges(spec: Iterable[CallSpec] | range) -> tuple[tuple[int, int], ...]:
    """Normalise ``[2, 3, (5, 9)]`` or ``range(2, 4)`` into sorted, merged inclusive ranges."""
    if isinstance(spec, range) and spec.step == 1:
        return ((spec.start, spec.stop - 1),) if len(spec) else ()
    _check(isinstance(spec, Iterable) and not isinstance(spec, str), "calls", "a list such as [1, [3, 5]]", spec)
    ranges: list[tuple[int, int]] = []
    for position, item in enumerate(spec):
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(_is_int(end) for end in item):
            first, last = int(item[0]), int(item[1])
        elif isinstance(item, int) and not isinstance(item, bool):
            first = last = item
        else:
            first = last = 0  # refused just below
        _check(1 <= first <= last, f"calls[{position}]", "a call number (from 1) or a [first, last] pair", item)
        ranges.append((first, last))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return tuple(merged)


def path_matcher(pattern: str) -> Callable[[str], bool]:
    """``re:<regex>`` must match the whole path; a pattern with ``*?[`` is a glob; anything else is exact."""
    if pattern.startswith("re:"):
        compiled = re.compile(pattern[3:])
        return lambda path: compiled.fullmatch(path) is not None
    if any(char in pattern for char in "*?["):
        return lambda path: fnmatch.fnmatchcase(path, pattern)
    return lambda path: path == pattern


@dataclass(frozen=True)
class FaultRule:
    """One rule: an action and the criteria (all must hold) that select a request for it."""

    action: FaultAction
    method: str = "*"
    path: str = "*"
    calls: tuple[tuple[int, int], ...] = ()  # inclusive ranges of this rule's call number; () = every call
    probability: float | None = None
    from_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive
    times: int | None = None

    def __post_init__(self) -> None:
        _check(
            isinstance(self.action, FaultAction), "action", "a FaultAction such as FaultAction.timeout()", self.action
        )
        methods = [*HTTP_METHODS, "*"]
        _check(
            isinstance(self.method, str) and self.method.upper() in methods, "method", f"one of {methods}", self.method
        )
        object.__setattr__(self, "method", self.method.upper())
        path_ok = isinstance(self.path, str) and self.path.startswith(("/", "*", "re:"))
        _check(path_ok, "path", "'/api/v3/order', a glob like '/fapi/*' or 're:<regex>'", self.path)
        if self.path.startswith("re:"):
            try:
                re.compile(self.path[3:])
            except re.error as exc:
                raise FaultPlanError("path", f"invalid regular expression {self.path[3:]!r}: {exc}") from None
        object.__setattr__(self, "calls", call_ranges(self.calls))
        chance = self.probability
        ok = chance is None or (isinstance(chance, (int, float)) and not isinstance(chance, bool) and 0 <= chance <= 1)
        _check(ok, "probability", "a number between 0 and 1", chance)
        for name, minimum in (("from_ms", 0), ("until_ms", 0), ("times", 1)):
            value = getattr(self, name)
            _check(value is None or _is_int(value, minimum), name, f"an integer >= {minimum}", value)
        if self.from_ms is not None and self.until_ms is not None:
            _check(self.until_ms > self.from_ms, "until_ms", f"a time after from_ms={self.from_ms}", self.until_ms)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.calls:
            data["calls"] = [first if first == last else [first, last] for first, last in self.calls]
        for name in ("probability", "from_ms", "until_ms", "times"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        data["action"] = self.action.to_json()
        return data

    @classmethod
    def from_json(cls, data: object) -> FaultRule:
        _check(isinstance(data, dict) and "action" in data, "action", "a rule object with an 'action'", data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        known = [spec.name for spec in fields(cls)]
        for name in data:
            _check(name in known, name, f"a field among {known}", "unknown field")
        _check(isinstance(data.get("calls", []), list), "calls", "a list such as [1, [3, 5]]", data.get("calls"))
        return cls(**{**data, "action": FaultAction.from_json(data["action"])})


class FaultEffect(str, Enum):
    RESPOND = "respond"  # answer with ``error`` instead of executing
    TIMEOUT = "timeout"  # never answer (after executing when ``execute``)
    REPLACE = "replace"  # execute, then answer with ``error`` instead of the real answer
    MODIFY = "modify"  # execute with an order-level modifier (``partial_fill_ratio``)


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request; ``rule_index`` is None for a ban earned by ignoring Retry-After."""

    kind: str
    effect: FaultEffect
    execute: bool
    rule_index: int | None = None
    http_status: int | None = None
    code: int | None = None
    msg: str | None = None
    retry_after: int | None = None
    partial_fill_ratio: Decimal | None = None

    @classmethod
    def answering(cls, kind: str, effect: FaultEffect, rule_index: int | None, error: VenueError) -> FaultDecision:
        execute = effect is FaultEffect.REPLACE
        return cls(kind, effect, execute, rule_index, error.http_status, error.code, error.msg, error.retry_after)

    @property
    def error(self) -> VenueError | None:
        """A fresh ``VenueError`` for the answer (None for timeouts and order modifiers)."""
        if self.code is None or self.msg is None or self.http_status is None:
            return None
        return VenueError(self.code, self.msg, self.http_status, self.retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


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
        _check(_is_int(seed), "seed", "an integer", seed)
        for index, rule in enumerate(self._rules):
            _check(isinstance(rule, FaultRule), f"rules[{index}]", "a FaultRule", rule)
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
        _check(isinstance(data, dict), "plan", 'an object {"seed": 0, "rules": [...]}', data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        for name in data:
            _check(name in ("seed", "rules"), name, "only 'seed' and 'rules' at the top level", "unknown field")
        rules_data = data.get("rules", [])
        _check(isinstance(rules_data, list), "rules", "a list of rules", rules_data)
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
            ok = isinstance(value, list) and len(value) == count and all(_is_int(n, 0) for n in value)
            _check(ok, f"snapshot.{name}", f"{count} counts, one per rule", value)
        for name in ("backoff_until_ms", "ban_until_ms"):
            value = state.get(name)
            _check(value is None or _is_int(value), f"snapshot.{name}", "an integer or null", value)
        _check(
            _is_int(state.get("backoff_ban_ms"), 0),
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
