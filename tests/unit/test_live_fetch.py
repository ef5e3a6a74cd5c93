"""The live log reader's partition mapping (no broker needed)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from projections.live import partition_of


def test_partition_of_matches_the_producers_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for n in range(200):
        deployment_id = f"{n:032x}"
        expected = partitioner(deployment_id.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        assert partition_of(deployment_id, 4) == expected
