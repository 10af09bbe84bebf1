"""A published value: the latest whole value a producer put out, for readers to take."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Published(Generic[T]):
    """Holds the latest value. Producers publish immutable values in one assignment, so a
    reader always gets a complete one and may keep it as long as it likes."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    @property
    def value(self) -> T:
        return self._value

    def publish(self, value: T) -> None:
        self._value = value
