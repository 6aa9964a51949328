"""The parts of a fault plan: the actions a request can get, the rules that select it, the decisions they yield."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Union

from tradesim.exchange_sim.errors import VenueError

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
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


def require(ok: bool, field: str, expected: str, value: object) -> None:
    """Refuse with a ``FaultPlanError`` naming ``field``, what was expected and what came, unless ``ok``."""
    if not ok:
        raise FaultPlanError(field, f"expected {expected}, got {value!r}")


def is_int(value: object, minimum: int | None = None) -> bool:
    """An int that is not a bool, and at least ``minimum`` when one is given."""
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
        require(known, "action.type", f"one of {list(ACTION_PARAMS)}", self.kind)
        reads = ACTION_PARAMS[self.kind]
        for spec in fields(self)[1:]:
            if spec.name not in reads and getattr(self, spec.name) != spec.default:
                raise FaultPlanError(f"action.{spec.name}", f"not used by {self.kind!r}; it reads {list(reads)}")
        require(is_int(self.retry_after_s, 1), "action.retry_after_s", "an integer >= 1", self.retry_after_s)
        require(is_int(self.ban_s, 0), "action.ban_s", "an integer >= 0", self.ban_s)
        statuses = list(SERVER_ERROR_STATUSES)
        require(is_int(self.status) and self.status in statuses, "action.status", f"one of {statuses}", self.status)
        require(isinstance(self.executed, bool), "action.executed", "true or false", self.executed)
        require(isinstance(self.ahead, bool), "action.ahead", "true or false", self.ahead)
        ratio = self.ratio
        ok = isinstance(ratio, Decimal) and ratio.is_finite() and Decimal(0) <= ratio < Decimal(1)
        require(ok, "action.ratio", 'a decimal in [0, 1) such as "0.5"', ratio)

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
        require(isinstance(data, dict) and "type" in data, "action", 'an object such as {"type": "timeout"}', data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        kind = data["type"]
        require(isinstance(kind, str) and kind in ACTION_PARAMS, "action.type", f"one of {list(ACTION_PARAMS)}", kind)
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
    require(isinstance(spec, Iterable) and not isinstance(spec, str), "calls", "a list such as [1, [3, 5]]", spec)
    ranges: list[tuple[int, int]] = []
    for position, item in enumerate(spec):
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(is_int(end) for end in item):
            first, last = int(item[0]), int(item[1])
        elif isinstance(item, int) and not isinstance(item, bool):
            first = last = item
        else:
            first = last = 0  # refused just below
        require(1 <= first <= last, f"calls[{position}]", "a call number (from 1) or a [first, last] pair", item)
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
        require(
            isinstance(self.action, FaultAction), "action", "a FaultAction such as FaultAction.timeout()", self.action
        )
        methods = [*HTTP_METHODS, "*"]
        require(
            isinstance(self.method, str) and self.method.upper() in methods, "method", f"one of {methods}", self.method
        )
        object.__setattr__(self, "method", self.method.upper())
        path_ok = isinstance(self.path, str) and self.path.startswith(("/", "*", "re:"))
        require(path_ok, "path", "'/api/v3/order', a glob like '/fapi/*' or 're:<regex>'", self.path)
        if self.path.startswith("re:"):
            try:
                re.compile(self.path[3:])
            except re.error as exc:
                raise FaultPlanError("path", f"invalid regular expression {self.path[3:]!r}: {exc}") from None
        object.__setattr__(self, "calls", call_ranges(self.calls))
        chance = self.probability
        ok = chance is None or (isinstance(chance, (int, float)) and not isinstance(chance, bool) and 0 <= chance <= 1)
        require(ok, "probability", "a number between 0 and 1", chance)
        for name, minimum in (("from_ms", 0), ("until_ms", 0), ("times", 1)):
            value = getattr(self, name)
            require(value is None or is_int(value, minimum), name, f"an integer >= {minimum}", value)
        if self.from_ms is not None and self.until_ms is not None:
            require(self.until_ms > self.from_ms, "until_ms", f"a time after from_ms={self.from_ms}", self.until_ms)

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
        require(isinstance(data, dict) and "action" in data, "action", "a rule object with an 'action'", data)
        assert isinstance(data, dict)  # for the type checker: _check raised otherwise
        known = [spec.name for spec in fields(cls)]
        for name in data:
            require(name in known, name, f"a field among {known}", "unknown field")
        require(isinstance(data.get("calls", []), list), "calls", "a list such as [1, [3, 5]]", data.get("calls"))
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
