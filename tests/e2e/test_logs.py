"""Build logs as users watch them: live over SSE, WebSocket and Socket.IO, stored,
paged, searched, and complete."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
import websockets

from tests.e2e.test_deploy import create, deploy
from tests.support.platform import Platform
from tests.support.sse import events


def printing_site(script: str) -> dict[str, str]:
    return {"package.json": json.dumps({"name": "logs", "private": True,
                                        "scripts": {"build": "node print.js"}}),
            "print.js": script + "\nrequire('fs').mkdirSync('dist', {recursive: true});"
                                 "\nrequire('fs').writeFileSync('dist/index.html', 'ok');"}


TICKER = """
let i = 0;
const t = setInterval(() => {
  i++; console.log('tick ' + i);
  if (i % 10 === 0) console.error('\\x1b[31mwarn ' + i + '\\x1b[0m');
  if (i === 300) { clearInterval(t); write(); }
}, 5);
function write() {
  require('fs').mkdirSync('dist', {recursive: true});
  require('fs').writeFileSync('dist/index.html', 'ok');
}
"""


def ticker_site() -> dict[str, str]:
    return {"package.json": json.dumps({"name": "ticker", "private": True,
                                        "scripts": {"build": "node tick.js"}}),
            "tick.js": TICKER}


def read_sse(platform: Platform, deployment_id: str, *, last_event_id: str | None = None,
             stop_after: int | None = None) -> list[tuple[str, str | None, dict]]:
    headers = platform.auth() | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    got, lines = [], 0
    with httpx.stream("GET", f"{platform.api}/v1/deployments/{deployment_id}/logs/stream",
                      headers=headers, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for item in events(response):
            got.append(item)
            lines += item[0] == "line"
            if item[0] == "end" or (stop_after is not None and lines >= stop_after):
                break
    return got


def test_a_live_client_sees_every_line_in_order_across_a_reconnect(platform, git_server):
    project = create(platform, "ticker", git_server.make_repo("ticker", ticker_site()))
    accepted = deploy(platform, project["id"])
    first = read_sse(platform, accepted["id"], stop_after=40)
    assert first[0][0] == "status"
    resume = [e for e in first if e[0] == "line"][-1][1]
    rest = read_sse(platform, accepted["id"], last_event_id=resume)
    lines = [e for e in first + rest if e[0] == "line"]
    seqs = [data["seq"] for _, _, data in lines]
    assert seqs == list(range(1, len(seqs) + 1)), "a gap or a duplicate across the reconnect"
    assert [e[1] for e in lines] == [str(s) for s in seqs]
    statuses = [data["status"] for event, _, data in rest if event == "status"]
    assert statuses[-1] == "READY"
    assert rest[-1][0] == "end" and rest[-1][2]["last_seq"] == seqs[-1]
    done = platform.wait_status(accepted["id"], {"READY"})
    assert done["log_lines"] == seqs[-1]
    text = [data["line"] for _, _, data in lines]
    assert sum(t.startswith("tick ") for t in text) == 300

    with platform.client() as c:
        found = c.get(f"/v1/deployments/{accepted['id']}/logs",
                      params={"q": "WARN 15", "stream": "stderr"}).json()["lines"]
        assert [line["plain"] for line in found] == ["warn 150"]
        assert found[0]["line"] == "\x1b[31mwarn 150\x1b[0m"
        stdout = c.get(f"/v1/deployments/{accepted['id']}/logs",
                       params={"stream": "stdout", "limit": 5000}).json()["lines"]
        assert {line["stream"] for line in stdout} == {"stdout"}
        assert c.get(f"/v1/deployments/{accepted['id']}/logs",
                     params={"stream": "bogus"}).status_code == 422


@pytest.mark.asyncio
async def test_the_websocket_carries_the_same_stream(platform, git_server):
    project = create(platform, "ws-logs", git_server.make_repo("ws-logs", ticker_site()))
    accepted = deploy(platform, project["id"])

    url = platform.api.replace("http", "ws") + f"/v1/deployments/{accepted['id']}/logs/ws"
    async with websockets.connect(url, additional_headers=platform.auth()) as ws:
        messages = [orjson.loads(message) async for message in ws]
    seqs = [m["seq"] for m in messages if m["type"] == "line"]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 330
    assert messages[-1]["type"] == "end" and messages[-1]["status"] == "READY"
    sse_seqs = [d["seq"] for e, _, d in read_sse(platform, accepted["id"]) if e == "line"]
    assert sse_seqs == seqs


def test_a_200000_line_build_is_stored_completely(platform, git_server):
    script = "let s = ''; for (let i = 1; i <= 200000; i++) s += 'line ' + i + '\\n';" \
             "process.stdout.write(s);"
    project = create(platform, "chatty", git_server.make_repo("chatty", printing_site(script)))
    accepted = deploy(platform, project["id"])
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"}, timeout=300)
    assert done["status"] == "READY", done
    seen, after = 0, 0
    with platform.client() as c:
        while True:
            page = c.get(f"/v1/deployments/{accepted['id']}/logs",
                         params={"after_seq": after, "limit": 5000}).json()
            seen += sum(line["line"].startswith("line ") for line in page["lines"])
            after = page["next_after_seq"]
            if not page["has_more"]:
                break
    assert seen == 200000 and after == done["log_lines"]
    streamed = read_sse(platform, accepted["id"])
    assert sum(1 for e in streamed if e[0] == "line") == done["log_lines"]


def test_invalid_utf8_is_replaced_not_dropped(platform, git_server):
    script = "process.stdout.write(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x21, 0x0a]));"
    project = create(platform, "bad-bytes", git_server.make_repo("bad-bytes",
                                                                 printing_site(script)))
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    with platform.client() as c:
        lines = [line["line"] for line in
                 c.get(f"/v1/deployments/{accepted['id']}/logs").json()["lines"]]
    assert "bad\ufffd\ufffd!" in lines
