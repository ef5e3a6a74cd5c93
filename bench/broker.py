"""Broker benchmark: produce -> consume latency through the embedded Kafka broker with
aiokafka, next to a plain asyncio TCP echo on loopback carrying the same messages at the
same rate (the baseline: what is not the broker's cost).

    .venv/bin/python bench/broker.py [--rate 1000] [--seconds 10] [--size 200] [--warmup 2]

Starts its own broker (``infra.broker.KafkaBroker`` in a temporary directory) and a
one-partition topic. The producer is configured as the platform's (``infra.kafka.
EventLog``: acks=all, idempotent, linger 0) and sends at a steady rate, each message
carrying its send time; a consumer with no group, following from the end, takes each
message's latency on receipt. The echo client sends the same frames to an echo server in
the same process and takes the round trip. The first ``--warmup`` seconds are not
counted. The issue sets no target: the figures are p50, p99 and max. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.services import kafka  # noqa: E402

TOPIC = "bench.latency"
HEADER = struct.Struct("!Iqd")  # frame length, sequence number, send time (perf_counter)
Send = Callable[[bytes], Awaitable[None]]


def frame(seq: int, size: int) -> bytes:
    body = HEADER.pack(size, seq, time.perf_counter())
    return body + b"x" * max(0, size - len(body))


def sent_at(message: bytes) -> tuple[int, float]:
    _, seq, at = HEADER.unpack_from(message)
    return seq, at


async def pace(send: Send, args: argparse.Namespace) -> int:
    """Send ``rate`` messages a second for ``warmup + seconds`` seconds, on schedule
    (a late tick sends what is due, so the rate holds); the count sent."""
    loop = asyncio.get_running_loop()
    total = args.rate * (args.warmup + args.seconds)
    start, seq = loop.time(), 0
    while seq < total:
        due = min(total, int((loop.time() - start) * args.rate) + 1)
        while seq < due:
            await send(frame(seq, args.size))
            seq += 1
        await asyncio.sleep(max(0.0, start + seq / args.rate - loop.time()))
    return total


def latency_ms(received: list[tuple[int, float]], args: argparse.Namespace) -> list[float]:
    skip = args.rate * args.warmup
    return [ms for seq, ms in received if seq >= skip]


# --- the baseline: a TCP echo on loopback ---------------------------------------------

async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               done: asyncio.Event) -> None:
    try:
        while True:
            head = await reader.readexactly(4)
            (size,) = struct.unpack("!I", head)
            writer.write(head + await reader.readexactly(size - 4))
            await writer.drain()
    except asyncio.IncompleteReadError:  # the client closed
        pass
    finally:
        writer.close()
        done.set()


async def echo_run(args: argparse.Namespace) -> list[float]:
    served = asyncio.Event()
    server = await asyncio.start_server(lambda r, w: echo(r, w, served), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received: list[tuple[int, float]] = []

    async def send(message: bytes) -> None:
        writer.write(message)
        await writer.drain()

    async def read(count: int) -> None:
        for _ in range(count):
            message = await reader.readexactly(args.size)
            seq, at = sent_at(message)
            received.append((seq, (time.perf_counter() - at) * 1000))

    reading = asyncio.create_task(read(args.rate * (args.warmup + args.seconds)))
    await pace(send, args)
    await asyncio.wait_for(reading, 30)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(served.wait(), 10)
    server.close()
    await server.wait_closed()
    return latency_ms(received, args)


# --- through the broker ---------------------------------------------------------------

async def create_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()


async def kafka_run(bootstrap: str, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """(produce -> consume latencies, produce -> acknowledged latencies) in ms."""
    await create_topic(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                enable_idempotence=True, request_timeout_ms=15000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="latest",
                                fetch_max_wait_ms=args.fetch_max_wait_ms)
    await producer.start()
    await consumer.start()
    try:
        part = TopicPartition(TOPIC, 0)
        consumer.assign([part])
        await consumer.seek_to_end(part)
        await consumer.position(part)  # following from the end before the first send
        return await _measure(producer, consumer, args)
    finally:
        await consumer.stop()
        await producer.stop()


async def _measure(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer,
                   args: argparse.Namespace) -> tuple[list[float], list[float]]:
    received: list[tuple[int, float]] = []
    acked: list[tuple[int, float]] = []
    total = args.rate * (args.warmup + args.seconds)

    async def consume() -> None:
        async for record in consumer:
            seq, at = sent_at(record.value or b"")
            received.append((seq, (time.perf_counter() - at) * 1000))
            if len(received) == total:
                return

    def on_ack(seq: int, at: float) -> Callable[[object], None]:
        return lambda _: acked.append((seq, (time.perf_counter() - at) * 1000))

    async def send(message: bytes) -> None:
        future = await producer.send(TOPIC, message)
        future.add_done_callback(on_ack(*sent_at(message)))

    consuming = asyncio.create_task(consume())
    await pace(send, args)
    await producer.flush()
    await asyncio.wait_for(consuming, 60)
    return latency_ms(received, args), latency_ms(acked, args)


# --- report ---------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, values: list[float]) -> str:
    return (f"{name:44} {len(values):7,} {pct(values, 0.5):8.2f} {pct(values, 0.99):8.2f} "
            f"{max(values):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="messages per second")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=2, help="seconds sent, not counted")
    parser.add_argument("--size", type=int, default=200, help="bytes per message")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=500,
                        help="the consumer's fetch wait (the live log reader uses 500)")
    args = parser.parse_args()
    args.size = max(args.size, HEADER.size)
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        echoed = asyncio.run(echo_run(args))
        with kafka(Path(tmp)) as broker:
            consumed, acked = asyncio.run(kafka_run(broker.bootstrap, args))
    print(f"{args.rate:,} messages/s of {args.size} bytes for {args.seconds} s "
          f"(+{args.warmup} s warm-up), one partition, same process and event loop\n")
    print(f"{'path':44} {'msgs':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(row("asyncio TCP echo, round trip (baseline)", echoed))
    print(row("aiokafka produce -> consume (acks=all)", consumed))
    print(row("  of which produce -> acknowledged", acked))
    print(f"\nbroker cost over the baseline: p50 +{pct(consumed, 0.5) - pct(echoed, 0.5):.2f} ms, "
          f"p99 +{pct(consumed, 0.99) - pct(echoed, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
