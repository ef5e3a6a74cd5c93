"""Edge under a log flood, against its own ``buildspace up`` (free ports, temporary data):
a site's p99 latency while idle, then while a build prints 200,000 log lines as fast as
it can (target: within 2x the idle p99).

    .venv/bin/python bench/edge_load.py [--lines 200000] [--idle 10] [--connections 64]
                                        [--threads 2]

Deploys a small static site and loads it with wrk (installed with apt-get when missing)
for ``--idle`` seconds; then deploys a project whose build prints ``--lines`` lines in a
tight loop between two markers, and loads the site again from the moment a live-log
client sees the first marker until the deployment is READY (wrk stopped with SIGINT
reports what it measured). Prints both runs, the ratio of the p99s against the target,
and how long the flood lasted (from the markers' timestamps). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import WRK_REPORT, ensure_tools  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402
from tests.support.platform import Platform, running_platform  # noqa: E402
from tests.support.sse import events  # noqa: E402

BEGIN, END = "FLOOD-BEGIN", "FLOOD-END"
FLOOD = """
const total = %d, pad = 'x'.repeat(60);
console.log('%s');
for (let i = 1; i <= total; i++) console.log('flood ' + i + ' ' + pad);
console.log('%s');
require('fs').mkdirSync('dist', {recursive: true});
require('fs').writeFileSync('dist/index.html', 'flooded');
"""
PAGE = "<!doctype html><title>quiet</title>" + "<p>a site that is only being read</p>\n" * 50


def deploy_site(platform: Platform, git: GitServer) -> str:
    """A static site, READY and served; its hostname."""
    with platform.client() as api:
        project = api.post("/v1/projects", json={
            "name": "quiet", "git_url": git.make_repo("quiet", {"index.html": PAGE})}).json()
        deployment = api.post(f"/v1/projects/{project['id']}/deployments").json()
    platform.wait_status(deployment["id"], {"READY"})
    host = str(project["url"]).split("://", 1)[1].split(":", 1)[0]
    if platform.wait_site(host).status_code != 200:
        raise SystemExit(f"the site {host} is not served: {platform.tail()}")
    return host


def start_flood(platform: Platform, git: GitServer, lines: int) -> str:
    site = {"package.json": json.dumps({"name": "flood", "private": True,
                                        "scripts": {"build": "node flood.js"}}),
            "flood.js": FLOOD % (lines, BEGIN, END)}
    with platform.client() as api:
        project = api.post("/v1/projects", json={
            "name": "flood", "git_url": git.make_repo("flood", site)}).json()
        return str(api.post(f"/v1/projects/{project['id']}/deployments").json()["id"])


def watch_for_begin(platform: Platform, deployment_id: str) -> threading.Event:
    """Set once a live-log client sees the first marker (the client then hangs up)."""
    seen = threading.Event()

    def watch() -> None:
        url = f"{platform.api}/v1/deployments/{deployment_id}/logs/stream"
        with httpx.stream("GET", url, timeout=300, headers=platform.auth()) as response:
            for event, _, data in events(response):
                if (event == "line" and data["line"] == BEGIN) or event == "end":
                    break
        seen.set()

    threading.Thread(target=watch, daemon=True).start()
    return seen


def wrk_command(url: str, host: str, script: Path, args: argparse.Namespace,
                seconds: int) -> list[str]:
    return ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
            "--timeout", "5s", "-H", f"Host: {host}", "-s", str(script), url]


def wrk_report(out: str) -> dict[str, Any]:
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no report: {out[-500:]}")
    result: dict[str, Any] = json.loads(line[4:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def idle(platform: Platform, host: str, script: Path, args: argparse.Namespace
         ) -> dict[str, Any]:
    command = wrk_command(platform.edge + "/", host, script, args, args.idle)
    return wrk_report(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def during_flood(platform: Platform, git: GitServer, host: str, script: Path,
                 args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """wrk from the first marker until the flooding deployment is READY."""
    deployment_id = start_flood(platform, git, args.lines)
    if not watch_for_begin(platform, deployment_id).wait(300):
        raise SystemExit(f"the flood did not begin within 300 s: {platform.tail()}")
    command = wrk_command(platform.edge + "/", host, script, args, 3600)
    load = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        done = platform.wait_status(deployment_id, {"READY", "FAILED", "CANCELED"}, 600)
    finally:
        load.send_signal(signal.SIGINT)  # wrk stops and reports what it measured
        out, _ = load.communicate(timeout=30)
    if done["status"] != "READY":
        raise SystemExit(f"the flood build ended {done['status']}: {done.get('failure_reason')}")
    return wrk_report(out), deployment_id


def flood_span(platform: Platform, deployment_id: str) -> float | None:
    """Seconds between the markers' timestamps, once both are stored (None if not within
    60 s)."""
    deadline = time.monotonic() + 60
    with platform.client() as api:
        while time.monotonic() < deadline:
            stamps = []
            for marker in (BEGIN, END):
                page = api.get(f"/v1/deployments/{deployment_id}/logs",
                               params={"q": marker, "limit": 1}).json()
                stamps += [line["timestamp"] for line in page["lines"]]
            if len(stamps) == 2:
                begin, end = (datetime.fromisoformat(stamp) for stamp in stamps)
                return (end - begin).total_seconds()
            time.sleep(0.5)  # poll interval while the worker stores the lines
    return None


def row(name: str, r: dict[str, Any]) -> str:
    return (f"{name:28} {r['duration_us'] / 1e6:6.1f} {r['rps']:9.0f} {r['p50_us'] / 1000:8.2f} "
            f"{r['p99_us'] / 1000:8.2f} {r['max_us'] / 1000:8.2f} {r['errors'] + r['non_2xx']:7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines the build prints")
    parser.add_argument("--idle", type=int, default=10, help="seconds of the idle wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git, \
            running_platform(Path(tmp) / "platform") as platform:
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_REPORT)
        host = deploy_site(platform, git)
        quiet = idle(platform, host, script, args)
        flooded, deployment_id = during_flood(platform, git, host, script, args)
        span = flood_span(platform, deployment_id)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"wrk -t{args.threads} -c{args.connections} on a {len(PAGE.encode()):,}-byte page "
          f"of buildspace up's edge; {os.cpu_count()} CPUs, load average {load}\n")
    print(f"{'site':28} {'secs':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'errors':>7}")
    print(row("idle", quiet))
    print(row(f"build printing {args.lines:,} lines", flooded))
    ratio = flooded["p99_us"] / quiet["p99_us"]
    print(f"\np99 under the flood / idle p99: {ratio:.2f}x (target <= 2x: "
          f"{'met' if ratio <= 2 else 'MISSED'})")
    took = f"{span:.1f} s" if span is not None else "unknown (markers not stored within 60 s)"
    print(f"the build printed {args.lines:,} lines in {took}")


if __name__ == "__main__":
    main()
