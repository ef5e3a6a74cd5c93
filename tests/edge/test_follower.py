"""RouteFollower against a real Kafka broker: loading the table, waiting for the topic,
skipping malformed records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from edge.follower import RouteFollower
from edge.routes import RouteTable
from infra.settings import Settings
from tests.edge.support import LoopThread, create_routes_topic, produce, route
from tests.support.waiting import eventually


def test_ready_on_an_empty_topic(make_settings: Callable[[], Settings], loop: LoopThread) -> None:
    settings = make_settings()
    loop.run(create_routes_topic(settings))
    follower = RouteFollower(settings, RouteTable(settings.base_domain))

    async def start_and_wait() -> None:
        await follower.start()
        await asyncio.wait_for(follower.wait_ready(), 10)

    try:
        loop.run(start_and_wait())
    finally:
        loop.run(follower.stop())


def test_loads_every_partition_and_skips_malformed_records(
    make_settings: Callable[[], Settings], loop: LoopThread
) -> None:
    settings = make_settings()
    loop.run(create_routes_topic(settings, partitions=4))
    good = [(f"site-{i}", route(f"site-{i}", f"dep-{i}")) for i in range(30)]
    bad: list[tuple[str, bytes | None]] = [("bad", b"\xff"), ("worse", b"[]"), ("\udcff", None)]
    loop.run(produce(settings, [*good[:15], ("bad", b"{oops"), *good[15:]]))
    table = RouteTable(settings.base_domain)
    follower = RouteFollower(settings, table)
    try:
        loop.run(follower.start())
        loop.run(follower.wait_ready())
        assert len(table) == 30  # all of it, before anything is served
        loop.run(produce(settings, [("site-0", None), *bad[:2]]))
        eventually(lambda: table.lookup("site-0.localhost") is None)
        assert len(table) == 29 and follower.task is not None and not follower.task.done()
    finally:
        loop.run(follower.stop())


def test_waits_for_the_topic_to_be_created(
    make_settings: Callable[[], Settings], loop: LoopThread
) -> None:
    settings = make_settings()
    table = RouteTable(settings.base_domain)
    follower = RouteFollower(settings, table)
    starting = asyncio.run_coroutine_threadsafe(follower.start(), loop.loop)
    try:
        loop.run(create_routes_topic(settings))
        loop.run(produce(settings, [("late", route("late", "dep-late"))]))
        starting.result(20)
        loop.run(follower.wait_ready())
        eventually(lambda: table.lookup("late.localhost") is not None)
    finally:
        loop.run(follower.stop())
