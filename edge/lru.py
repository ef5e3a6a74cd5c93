"""A least-recently-used cache bounded by the total size of its values in bytes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """Keeps the most recently used values while their sizes sum to at most ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Cache ``value``; one larger than the whole capacity is not cached."""
        if size > self.capacity:
            return
        self.discard(key)
        self._items[key] = (value, size)
        self.size += size
        while self.size > self.capacity:
            _, (_, evicted) = self._items.popitem(last=False)
            self.size -= evicted

    def discard(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.size -= item[1]
