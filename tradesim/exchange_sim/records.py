"""The venue's dataclass records: JSON-able snapshots and back, and what every order record shares."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

RecordT = TypeVar("RecordT", bound="JsonRecord")

FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})


@dataclass(frozen=True, slots=True)
class _Layout:
    """What a record class's fields hold, read once from its type hints."""

    names: tuple[str, ...]
    decimals: frozenset[str]
    nested: dict[str, type[JsonRecord]]


_LAYOUTS: dict[type, _Layout] = {}


class JsonRecord:
    """Mixin of a dataclass record: ``snapshot()`` in field order and ``restore()`` of such a snapshot.

    A field typed ``Decimal`` (or ``Decimal | None``) is kept as its string, a ``list`` of records as a
    list of their snapshots; every other value as it is.
    """

    __slots__ = ()

    def snapshot(self) -> dict[str, Any]:
        layout = _layout(type(self))
        data: dict[str, Any] = {}
        for name in layout.names:
            value = getattr(self, name)
            if isinstance(value, Decimal):
                data[name] = str(value)
            elif name in layout.nested:
                data[name] = [item.snapshot() for item in value]
            else:
                data[name] = value
        return data

    @classmethod
    def restore(cls: type[RecordT], data: dict[str, Any]) -> RecordT:
        layout = _layout(cls)
        values: dict[str, Any] = {}
        for name, value in data.items():
            nested = layout.nested.get(name)
            if nested is not None:
                values[name] = [nested.restore(item) for item in value]
            elif name in layout.decimals and value is not None:
                values[name] = Decimal(value)
            else:
                values[name] = value
        return cls(**values)


class OrderRecord(JsonRecord):
    """Mixin of a spot or futures order record: what is left of it and whether it is still open."""

    __slots__ = ()
    orig_qty: Decimal
    executed_qty: Decimal
    status: str

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES


def _layout(cls: type) -> _Layout:
    found = _LAYOUTS.get(cls)
    if found is None:
        if not is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass to be a JsonRecord")
        hints = get_type_hints(cls)
        names = tuple(f.name for f in fields(cls))
        decimals = frozenset(n for n in names if _is_decimal(hints[n]))
        nested = {n: arg for n in names if (arg := _record_list_item(hints[n])) is not None}
        found = _LAYOUTS[cls] = _Layout(names, decimals, nested)
    return found


def _is_decimal(hint: Any) -> bool:
    if hint is Decimal:
        return True
    return get_origin(hint) in (Union, UnionType) and Decimal in get_args(hint)


def _record_list_item(hint: Any) -> type[JsonRecord] | None:
    if get_origin(hint) is not list:
        return None
    (item,) = get_args(hint)
    return item if isinstance(item, type) and issubclass(item, JsonRecord) else None
