"""Publish a build's events: log lines to the logs topic (keyed by deployment id) and
status events to the events topic (keyed by project id).

Every line of the build, the builder's own ("system") lines included, gets the next
``seq`` (1, 2, 3, …), so ``(deployment_id, seq)`` identifies it wherever it lands.
Lines are batched into ``BuildLogAppended`` messages, but a line never waits more than
``LINGER_S`` for its batch to be sent. While the emitter is open (the build runs), a
``BuildHeartbeat`` with the last seq goes to the logs topic every ``heartbeat_seconds``,
also when the build prints nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from builder.batching import (
    LINGER_S,
    MAX_BATCH_BYTES,
    MAX_BATCH_LINES,
    LineBatcher,
    Stream,
    log,
)
from infra.connections import kafka_options
from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, dumps
from schemas.events import FINAL_EVENTS
from schemas.logs import BuildHeartbeat, BuildLogAppended, LogLine

__all__ = ["LINGER_S", "MAX_BATCH_BYTES", "MAX_BATCH_LINES", "Emitter", "KafkaEmitter",
           "Stream", "control_fields"]


class Emitter(Protocol):
    """Where a build reports to (``KafkaEmitter`` in production)."""

    seq: int  # the seq of the last line sent

    async def line(self, stream: str, text: str) -> None: ...
    async def system(self, text: str) -> None: ...
    async def publish(self, event: Envelope) -> None: ...


def control_fields(spec: BuildSpec) -> dict[str, Any]:
    """Envelope fields of the build's status events: in the project's stream, and in the
    same causal chain as the request that asked for the build."""
    return {"stream_id": spec.project_id, "causation_id": spec.correlation_id,
            "correlation_id": spec.correlation_id}


class KafkaEmitter(LineBatcher):
    """Batches log lines and publishes them and status events with aiokafka."""

    def __init__(self, settings: Settings, spec: BuildSpec) -> None:
        super().__init__(settings, spec)
        self._inflight: list[asyncio.Future[Any]] = []
        self._producer = AIOKafkaProducer(
            **kafka_options(settings), acks="all", linger_ms=0, enable_idempotence=True,
            request_timeout_ms=15000, max_request_size=4 * 1024 * 1024)

    async def __aenter__(self) -> KafkaEmitter:
        await self._producer.start()
        self._start_beating()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stop_beating()
            await self.flush()
        finally:
            await self._producer.stop()

    async def _heartbeat(self) -> None:
        """Tell the platform the build is alive; the lines up to ``last_seq`` go first."""
        spec = self.spec
        try:
            await self._send_pending()
            beat = BuildHeartbeat(
                stream_id=spec.deployment_id, project_id=spec.project_id,
                deployment_id=spec.deployment_id, last_seq=self.seq,
                causation_id=spec.correlation_id, correlation_id=spec.correlation_id)
            await self._producer.send(self.settings.topic_logs, dumps(beat),
                                      key=spec.deployment_id.encode())
        except KafkaError as exc:  # the watchdog fails the build if this persists
            log.warning("heartbeat not sent: %r", exc)

    async def publish(self, event: Envelope) -> None:
        """Send a status event after every line before it has been delivered. Once the
        outcome is out, the build has ended: no more heartbeats."""
        if isinstance(event, FINAL_EVENTS):
            await self._stop_beating()
        await self.flush()
        await self._producer.send_and_wait(self.settings.topic_events, dumps(event),
                                           key=self.spec.project_id.encode())

    async def flush(self) -> None:
        """Send what is pending and wait until every line sent so far is acknowledged."""
        await super().flush()
        inflight, self._inflight = self._inflight, []
        await asyncio.gather(*inflight)

    async def _deliver(self, lines: list[LogLine]) -> None:
        message = BuildLogAppended(
            stream_id=self.spec.deployment_id, project_id=self.spec.project_id,
            deployment_id=self.spec.deployment_id, lines=lines,
            causation_id=self.spec.correlation_id, correlation_id=self.spec.correlation_id)
        delivery = await self._producer.send(self.settings.topic_logs, dumps(message),
                                             key=self.spec.deployment_id.encode())
        self._inflight = [f for f in self._inflight if not _delivered(f)]
        self._inflight.append(delivery)


def _delivered(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
