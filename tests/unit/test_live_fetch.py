"""The live log reader's fetch wait and its partition mapping (no broker needed)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from projections.live import FetchWait, partition_of


def test_partition_of_matches_the_producers_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for n in range(200):
        deployment_id = f"{n:032x}"
        expected = partitioner(deployment_id.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        assert partition_of(deployment_id, 4) == expected


def test_fetch_wait_doubles_on_a_stall_up_to_its_ceiling() -> None:
    wait = FetchWait(5, high=40)
    for expected in (10, 20, 40, 40):
        wait.stalled()
        assert wait.ms == expected


def test_fetch_wait_eases_back_while_records_flow_but_not_below_its_floor() -> None:
    wait = FetchWait(5)
    wait.stalled()
    wait.stalled()
    for _ in range(2000):
        wait.progressed()
    assert wait.ms == 5
