"""The emitter against a real Kafka broker: numbered, batched log lines and status
events in the right topics, with the right keys."""

from __future__ import annotations

import pytest

from builder.emitter import MAX_BATCH_LINES, KafkaEmitter, control_fields
from infra.settings import Settings
from schemas.events import DeploymentFailed
from tests.builder.support import make_spec, read_log_records, read_logs, wait_outcome
from tests.support.waiting import eventually_async


@pytest.mark.asyncio
async def test_lines_are_numbered_batched_and_sent_before_the_outcome(settings: Settings):
    spec = make_spec("http://127.0.0.1:1/x.git")

    async with KafkaEmitter(settings, spec) as emitter:
        await emitter.system("Cloning")
        for i in range(1200):
            await emitter.line("stdout" if i % 2 else "stderr", f"line {i}")
        await emitter.publish(DeploymentFailed(
            **control_fields(spec), project_id=spec.project_id,
            deployment_id=spec.deployment_id, reason="test"))
    events = await wait_outcome(settings, spec.deployment_id)
    messages = await read_logs(settings, spec.deployment_id)
    assert [e["type"] for e in events] == ["DeploymentFailed"]
    assert events[0]["stream_id"] == spec.project_id
    assert events[0]["correlation_id"] == events[0]["causation_id"] == spec.correlation_id
    lines = [line for m in messages for line in m["lines"]]
    assert [line["seq"] for line in lines] == list(range(1, 1202))
    assert lines[0] == {**lines[0], "stream": "system", "line": "Cloning"}
    assert lines[1]["stream"] == "stderr" and lines[2]["stream"] == "stdout"
    assert len(messages) >= 3 and max(len(m["lines"]) for m in messages) <= MAX_BATCH_LINES
    assert {m["type"] for m in messages} == {"BuildLogAppended"}
    assert {m["stream_id"] for m in messages} == {spec.deployment_id}


@pytest.mark.asyncio
async def test_a_lone_line_is_sent_without_waiting_for_more(settings: Settings):
    """The line arrives while the emitter stays open and nothing else is written: the
    batcher does not hold a lone line back for company or for the close."""
    spec = make_spec("http://127.0.0.1:1/x.git")

    async with KafkaEmitter(settings, spec) as emitter:
        await emitter.system("just one line")
        await eventually_async(lambda: read_logs(settings, spec.deployment_id),
                               what="the line sent while the emitter is open")


@pytest.mark.asyncio
async def test_heartbeats_are_sent_while_the_build_is_silent_and_stop_with_it(settings: Settings):
    spec = make_spec("http://127.0.0.1:1/x.git")
    beating = settings.model_copy(update={"heartbeat_seconds": 0.05})

    async def beats() -> list:
        return [m for m in await read_logs(settings, spec.deployment_id)
                if m["type"] == "BuildHeartbeat"]

    async def two_beats() -> list:
        found = await beats()
        return found if len(found) >= 2 else []

    async def beat_after_the_second_line() -> list:
        return [b for b in await beats() if b["last_seq"] == 2]

    emitter = KafkaEmitter(beating, spec)
    async with emitter:
        await emitter.system("one line, then silence")
        found = await eventually_async(two_beats, 30, what="two heartbeats in the silence")
        await emitter.system("a second line")
        await eventually_async(beat_after_the_second_line, 30,
                               what="a heartbeat after the second line")
        await emitter.publish(DeploymentFailed(
            **control_fields(spec), project_id=spec.project_id,
            deployment_id=spec.deployment_id, reason="test"))
        assert not emitter.beating  # the outcome ends the build's heartbeats
    after_close = await beats()
    records = await read_log_records(settings, spec.deployment_id)
    assert {key for key, _ in records} == {spec.deployment_id.encode()}
    messages = [message for _, message in records]
    assert {b["last_seq"] for b in found} == {1}
    assert {(b["deployment_id"], b["stream_id"], b["project_id"]) for b in after_close} == {
        (spec.deployment_id, spec.deployment_id, spec.project_id)}
    # every heartbeat comes after the lines it counts, in the deployment's partition
    seen = 0
    for message in messages:
        if message["type"] == "BuildLogAppended":
            seen = message["lines"][-1]["seq"]
        else:
            assert message["last_seq"] <= seen
    assert after_close == [m for m in messages if m["type"] == "BuildHeartbeat"]
