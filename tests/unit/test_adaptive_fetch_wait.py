"""The Faust consumer's adaptive fetch wait (``streams.app.AdaptiveFetchWait``) on a
stand-in fetcher: which fetch outcomes lengthen the wait, which ease it, which leave
it alone (no broker, no clock)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import FetchResult
from aiokafka.consumer.subscription_state import Assignment
from aiokafka.protocol.fetch import FetchRequest

from streams.app import AdaptiveFetchWait

A, B = TopicPartition("t", 0), TopicPartition("t", 1)
Answer = Callable[[Assignment], None]


class StandInFetcher:
    """What AdaptiveFetchWait touches of an aiokafka Fetcher; ``_proc_fetch_request``
    applies a scripted answer the way the real one records a broker response."""

    def __init__(self) -> None:
        self._fetch_max_wait_ms = 1500
        self._records: dict[TopicPartition, Any] = {}
        self.answer: Answer = lambda assignment: None

    async def _proc_fetch_request(self, assignment: Assignment, node_id: int,
                                  request: FetchRequest) -> bool:
        self.answer(assignment)
        return False


_clock = itertools.count(1)


def answered(fetcher: StandInFetcher, tp: TopicPartition, highwater: int,
             records: bool = False) -> Answer:
    """The broker answered ``tp`` (highwater, and records or none)."""

    def apply(assignment: Assignment) -> None:
        state = assignment.state_value(tp)
        state.highwater, state.timestamp = highwater, next(_clock)
        if records:
            fetcher._records[tp] = FetchResult(tp, assignment=assignment,
                                               partition_records=None, backoff=0)

    return apply


def both(*answers: Answer) -> Answer:
    return lambda assignment: [answer(assignment) for answer in answers] and None


def request(*tps: TopicPartition, offset: int = 10) -> FetchRequest:
    return FetchRequest(5, 1, 1 << 20, 0,
                        [("t", [(tp.partition, offset, 1 << 20) for tp in tps])])


class Rig:
    """A fetcher with the adaptive wait installed, its partitions at offset 10."""

    def __init__(self, *tps: TopicPartition, low_ms: int = 5, high_ms: int = 1000) -> None:
        self.fetcher = StandInFetcher()
        self.wait = AdaptiveFetchWait(self.fetcher, low_ms, high_ms)
        self.assignment = Assignment(set(tps))
        for tp in tps:
            self.assignment.state_value(tp).seek(10)

    async def fetch(self, answer: Answer, *tps: TopicPartition) -> int:
        """One fetch of ``tps`` (records handed over are consumed afterwards, as the
        fetcher only asks for partitions without buffered records); the next wait."""
        self.fetcher.answer = answer
        await self.fetcher._proc_fetch_request(self.assignment, 0, request(*tps))
        self.fetcher._records.clear()
        return self.wait.ms


def run(test: Callable[[], Any]) -> None:
    asyncio.run(test())


def test_installing_sets_the_shortest_wait() -> None:
    async def test() -> None:
        rig = Rig(A, low_ms=7)
        assert rig.fetcher._fetch_max_wait_ms == 7
        assert rig.wait.ms == 7

    run(test)


def test_an_empty_answer_where_records_were_waiting_doubles_the_wait() -> None:
    async def test() -> None:
        rig = Rig(A)
        fetcher = rig.fetcher
        # First fetch: the highwater is not known yet, so an empty answer is no stall.
        assert await rig.fetch(answered(fetcher, A, highwater=50), A) == 5
        # Now the fetcher knows records wait at offset 10; the broker gives up again.
        assert await rig.fetch(answered(fetcher, A, highwater=50), A) == 10
        assert await rig.fetch(answered(fetcher, A, highwater=50), A) == 20

    run(test)


def test_the_wait_stops_at_its_ceiling() -> None:
    async def test() -> None:
        rig = Rig(A, high_ms=40)
        waits = [await rig.fetch(answered(rig.fetcher, A, highwater=50), A) for _ in range(6)]
        assert waits == [5, 10, 20, 40, 40, 40]

    run(test)


def test_an_empty_answer_at_the_end_of_the_partition_is_no_stall() -> None:
    async def test() -> None:
        rig = Rig(A)
        for _ in range(3):
            assert await rig.fetch(answered(rig.fetcher, A, highwater=10), A) == 5

    run(test)


def test_records_arriving_during_a_fetch_are_no_stall() -> None:
    """The broker answers empty with a highwater past the position: the record landed
    while the fetch waited. Only records there before the fetch count."""

    async def test() -> None:
        rig = Rig(A)
        assert await rig.fetch(answered(rig.fetcher, A, highwater=10), A) == 5
        assert await rig.fetch(answered(rig.fetcher, A, highwater=11), A) == 5

    run(test)


def test_no_answer_is_no_stall() -> None:
    """A failed request (or a response dropped because the position moved) leaves the
    partition unanswered: the broker did not give up on a read."""

    async def test() -> None:
        rig = Rig(A)
        await rig.fetch(answered(rig.fetcher, A, highwater=50), A)
        for _ in range(3):
            assert await rig.fetch(lambda assignment: None, A) == 5

    run(test)


def test_a_response_for_an_old_assignment_changes_nothing() -> None:
    async def test() -> None:
        rig = Rig(A)
        await rig.fetch(answered(rig.fetcher, A, highwater=50), A)
        rig.assignment._unassign()
        assert await rig.fetch(answered(rig.fetcher, A, highwater=50), A) == 5

    run(test)


def test_records_ease_the_wait_back_to_its_floor() -> None:
    async def test() -> None:
        rig = Rig(A)
        fetcher = rig.fetcher
        await rig.fetch(answered(fetcher, A, highwater=50), A)
        await rig.fetch(answered(fetcher, A, highwater=50), A)
        assert await rig.fetch(answered(fetcher, A, highwater=50), A) == 20
        eased = await rig.fetch(answered(fetcher, A, highwater=50, records=True), A)
        assert 5 < eased < 20
        for _ in range(2000):
            await rig.fetch(answered(fetcher, A, highwater=50, records=True), A)
        assert rig.wait.ms == 5

    run(test)


def test_one_partition_stalling_lengthens_the_wait_while_another_brings_records() -> None:
    """Faust fetches all its partitions in one request: records for one must not hide
    that the broker gives up on another."""

    async def test() -> None:
        rig = Rig(A, B)
        fetcher = rig.fetcher
        first = both(answered(fetcher, A, highwater=50), answered(fetcher, B, highwater=9000))
        assert await rig.fetch(first, A, B) == 5
        mixed = both(answered(fetcher, A, highwater=50, records=True),
                     answered(fetcher, B, highwater=9000))
        assert await rig.fetch(mixed, A, B) == 10
        assert await rig.fetch(mixed, A, B) == 20

    run(test)


def test_the_fetchers_own_processing_still_runs_and_answers() -> None:
    async def test() -> None:
        calls: list[tuple[int, FetchRequest]] = []

        class Recording(StandInFetcher):
            async def _proc_fetch_request(self, assignment: Assignment, node_id: int,
                                          req: FetchRequest) -> bool:
                calls.append((node_id, req))
                return True

        fetcher = Recording()
        AdaptiveFetchWait(fetcher, 5)
        assignment = Assignment({A})
        assignment.state_value(A).seek(10)
        req = request(A)
        assert await fetcher._proc_fetch_request(assignment, 3, req) is True
        assert calls == [(3, req)]

    run(test)
