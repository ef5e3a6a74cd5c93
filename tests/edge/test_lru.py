"""The byte-bounded LRU behind the edge's memory cache."""

from __future__ import annotations

from edge.lru import ByteLRU


def test_evicts_least_recently_used_beyond_capacity() -> None:
    lru: ByteLRU[bytes] = ByteLRU(10)
    lru.put("a", b"aaaa", 4)
    lru.put("b", b"bbbb", 4)
    assert lru.get("a") == b"aaaa"  # now b is the oldest
    lru.put("c", b"cccc", 4)
    assert lru.get("b") is None
    assert lru.get("a") == b"aaaa" and lru.get("c") == b"cccc"
    assert lru.size == 8


def test_values_larger_than_capacity_are_not_cached() -> None:
    lru: ByteLRU[bytes] = ByteLRU(3)
    lru.put("big", b"xxxx", 4)
    assert lru.get("big") is None and lru.size == 0


def test_replacing_a_key_keeps_the_size_right() -> None:
    lru: ByteLRU[bytes] = ByteLRU(10)
    lru.put("a", b"aaaa", 4)
    lru.put("a", b"aa", 2)
    assert lru.size == 2 and len(lru) == 1
