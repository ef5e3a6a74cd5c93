"""``buildspace up`` runs one process per role and keeps them running: the edge as two
processes sharing its port, each restarted after kill -9, and the API-plus-worker
process too. (SIGINT leaving no orphan: tests/e2e/test_restart.py.)"""

from __future__ import annotations

import http.client
import os
import re
import signal

from tests.e2e.test_deploy import create, deploy, host
from tests.support import procs
from tests.support.platform import Platform
from tests.support.waiting import eventually


def deployed_site(platform: Platform, git_server, name: str, body: str) -> str:
    project = create(platform, name, git_server.make_repo(name.lower(), {"index.html": body}))
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    site = host(project["url"])
    assert platform.wait_site(site).text == body
    return site


def edges(platform: Platform, count: int = 2) -> list[int]:
    """The edge pids once ``count`` of them listen on the edge port."""
    def listening() -> list[int]:
        pids = platform.roles("edge")
        return pids if len(procs.listening(pids, platform.edge_port)) == count else []
    return eventually(listening, timeout=90)


def served_by(platform: Platform, site: str, connections: int = 32) -> set[int]:
    """The edge pids that answered some of ``connections`` new connections, each with
    the site's index page."""
    opened = []
    try:
        for _ in range(connections):
            conn = http.client.HTTPConnection("127.0.0.1", platform.edge_port, timeout=10)
            conn.request("GET", "/", headers={"Host": site})
            response = conn.getresponse()
            assert response.status == 200 and response.read()
            opened.append(conn)  # kept open: /proc shows who holds its server side
        ports = {conn.sock.getsockname()[1] for conn in opened}
        return procs.serving(platform.roles("edge"), platform.edge_port, ports)
    finally:
        for conn in opened:
            conn.close()


def restarted(platform: Platform, pid: int) -> int | None:
    """The pid of the process that replaced ``pid`` once the log says so: a line for
    its death, then one for its restart."""
    text = platform.log_path.read_text(errors="replace")
    died = re.search(rf"(\S+) \(pid {pid}\) died: killed by SIGKILL", text)
    if died is None:
        return None
    again = re.compile(rf"{re.escape(died.group(1))} restarted \(pid (\d+)\)")
    found = again.search(text, died.end())
    return int(found.group(1)) if found else None


def test_two_edge_processes_serve_the_same_port(platform: Platform, git_server):
    site = deployed_site(platform, git_server, "Shared-Port", "<p>either edge</p>")
    pids = edges(platform)
    assert len(pids) == 2 and len(set(pids)) == 2
    assert procs.listening(pids, platform.edge_port) == set(pids)
    assert served_by(platform, site) == set(pids)


def test_a_killed_edge_is_restarted_and_the_site_stays_up(platform: Platform, git_server):
    site = deployed_site(platform, git_server, "Survivor", "<p>still served</p>")
    victim, survivor = edges(platform)
    os.kill(victim, signal.SIGKILL)
    eventually(lambda: not procs.alive(victim))

    def served_until_restarted() -> int | None:
        assert platform.get_site(site).text == "<p>still served</p>"  # by the survivor
        return restarted(platform, victim)

    replacement = eventually(served_until_restarted, timeout=60)
    assert replacement not in (victim, survivor)
    assert set(edges(platform)) == {survivor, replacement}
    assert served_by(platform, site) == {survivor, replacement}


def test_a_killed_api_and_worker_process_is_restarted(platform: Platform, git_server):
    [victim] = platform.roles("api worker")
    os.kill(victim, signal.SIGKILL)
    replacement = eventually(lambda: restarted(platform, victim), timeout=60)
    assert platform.roles("api worker") == [replacement]
    platform.wait_api()
    # The worker came back too: a new deployment is built and served.
    deployed_site(platform, git_server, "After-Restart", "<p>built after the restart</p>")


def test_the_orphan_check_sees_every_process_of_a_running_platform(platform: Platform):
    seen = "\n".join(platform.orphans())  # what test_restart expects gone after SIGINT
    assert "infra.compose.cli api worker" in seen and seen.count("infra.compose.cli edge") == 2
    assert "kafka.Kafka" in seen and f"the Kafka port {platform.kafka}" in seen


def test_a_killed_broker_is_restarted_and_the_read_models_hold_no_duplicate(
        platform: Platform, git_server):
    before = deployed_site(platform, git_server, "Pre-Crash", "<p>before the crash</p>")
    assert platform.proc is not None
    [broker] = [pid for pid, cmd in procs.children(platform.proc.pid).items()
                if "kafka.Kafka" in cmd]
    os.kill(broker, signal.SIGKILL)
    eventually(lambda: restarted(platform, broker), timeout=90)
    assert platform.get_site(before).text == "<p>before the crash</p>"  # the edge kept it
    after = deployed_site(platform, git_server, "Post-Crash", "<p>after the crash</p>")
    assert platform.wait_site(after).text == "<p>after the crash</p>"
    with platform.client() as c:
        projects = c.get("/v1/projects", params={"limit": 100}).json()
        ids = [p["id"] for p in projects]
        assert len(ids) == len(set(ids)) and {"Pre-Crash", "Post-Crash"} <= {
            p["name"] for p in projects}
        for project in projects:
            deployments = c.get(f"/v1/projects/{project['id']}/deployments").json()
            numbers = [d["number"] for d in deployments]
            assert len(numbers) == len(set(numbers)), project
