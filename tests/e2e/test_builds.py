"""Build scheduling as a user sees it: cancel, a FIFO queue with a concurrency limit,
superseding, the watchdog, build variables and settings changes."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_deploy import create, deploy, host
from tests.support.kafka import topic_size
from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually

SLOW_BUILD = "console.log('building slowly'); setInterval(() => {}, 1000);"


def slow_site() -> dict[str, str]:
    return {"package.json": json.dumps({"name": "slow", "private": True,
                                        "scripts": {"build": "node slow.js"}}),
            "slow.js": SLOW_BUILD}


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform that runs one build at a time and fails builds silent for 4 s."""
    with running_platform(tmp_path_factory.mktemp("one-slot"),
                          BUILDSPACE_MAX_CONCURRENT_BUILDS="1",
                          BUILDSPACE_WATCHDOG_SECONDS="4",
                          BUILDSPACE_HEARTBEAT_SECONDS="1") as running:
        yield running


def get(platform: Platform, deployment_id: str) -> dict:
    with platform.client() as c:
        return c.get(f"/v1/deployments/{deployment_id}").json()


def builder_pids(platform: Platform) -> list[int]:
    """The builder processes the worker runs."""
    workers = set(platform.roles("api worker"))
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"builder.run" in cmdline and int(stat[1]) in workers:
            pids.append(int(proc.name))
    return pids


def test_one_build_at_a_time_in_fifo_order_with_superseding_and_cancel(one_slot, git_server):
    slow = create(one_slot, "slow-one", git_server.make_repo("slow-one", slow_site()))
    b = create(one_slot, "queued-b", git_server.make_repo("queued-b", {"index.html": "b"}))
    c = create(one_slot, "queued-c", git_server.make_repo("queued-c", {"index.html": "c"}))
    running = deploy(one_slot, slow["id"])
    assert one_slot.wait_status(running["id"], {"BUILDING"})["status"] == "BUILDING"
    first_b, first_c = deploy(one_slot, b["id"]), deploy(one_slot, c["id"])
    assert get(one_slot, first_b["id"])["queue_position"] == 1
    assert get(one_slot, first_c["id"])["queue_position"] == 2

    newer_b = deploy(one_slot, b["id"])  # same project and branch: supersedes the queued one
    superseded = one_slot.wait_status(first_b["id"], {"CANCELED"})
    assert superseded["failure_reason"] == "superseded"
    assert get(one_slot, first_c["id"])["queue_position"] == 1
    assert get(one_slot, newer_b["id"])["queue_position"] == 2

    with one_slot.client() as client:  # cancel a queued deployment: it never builds
        assert client.post(f"/v1/deployments/{first_c['id']}/cancel").status_code == 202
        assert client.get(f"/v1/deployments/{first_c['id']}").json()["status"] == "CANCELED"
        started = time.monotonic()
        assert client.post(f"/v1/deployments/{running['id']}/cancel").status_code == 202
    assert get(one_slot, running["id"])["status"] == "CANCELED"
    assert eventually(lambda: not builder_pids(one_slot), timeout=10), "build still running"
    print(f"running build stopped {time.monotonic() - started:.2f} s after the cancel")

    assert one_slot.wait_status(newer_b["id"], {"READY", "FAILED"})["status"] == "READY"
    assert get(one_slot, first_c["id"])["status"] == "CANCELED"
    assert get(one_slot, first_c["id"])["started_at"] is None
    assert one_slot.wait_site(host(b["url"])).text == "b"
    assert one_slot.get_site(host(c["url"])).status_code == 404
    with one_slot.client() as client:
        again = client.post(f"/v1/deployments/{running['id']}/cancel")
        assert again.status_code == 409 and "CANCELED" in again.json()["error"]["message"]
        assert client.post("/v1/deployments/nope/cancel").status_code == 404


def test_a_build_whose_runner_died_is_failed_by_the_watchdog(one_slot, git_server):
    project = create(one_slot, "dies", git_server.make_repo("dies", slow_site()))
    accepted = deploy(one_slot, project["id"])
    assert one_slot.wait_status(accepted["id"], {"BUILDING"})["status"] == "BUILDING"
    assert eventually(lambda: builder_pids(one_slot))
    for pid in builder_pids(one_slot):
        os.kill(pid, signal.SIGKILL)  # the runner dies without reporting anything
    failed = one_slot.wait_status(accepted["id"], {"FAILED", "READY"}, timeout=60)
    assert failed["status"] == "FAILED"
    assert "stopped reporting" in failed["failure_reason"]


def test_build_variables_are_encrypted_in_events_and_reach_the_build(platform, git_server):
    secret = "s3cr3t-" + os.urandom(6).hex()
    site = {"package.json": json.dumps({"name": "env", "private": True, "scripts": {
        "build": "mkdir -p dist && node -e \"require('fs').writeFileSync('dist/index.html', "
                 "process.env.GREETING + ':' + process.env.API_TOKEN.length)\""}})}
    project = create(platform, "with-env", git_server.make_repo("with-env", site))
    before = topic_size(platform.kafka, "buildspace.events")
    with platform.client() as c:
        r = c.put(f"/v1/projects/{project['id']}/env",
                  json={"vars": {"GREETING": "hello", "API_TOKEN": secret}})
        assert r.status_code == 200, r.text
        assert r.json()["vars"] == {"API_TOKEN": "••••••••", "GREETING": "••••••••"}
        shown = c.get(f"/v1/projects/{project['id']}/env").json()
        assert shown["vars"] == {"API_TOKEN": "••••••••", "GREETING": "••••••••"}
        bad = c.put(f"/v1/projects/{project['id']}/env", json={"vars": {"PATH": "/evil"}})
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "vars"
    assert topic_size(platform.kafka, "buildspace.events") == before + 1
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    assert platform.wait_site(host(project["url"])).text == f"hello:{len(secret)}"
    assert not any(secret.encode() in p.read_bytes()
                   for p in (platform.data_dir / "s3").rglob("*") if p.is_file())


def test_settings_changes_apply_to_the_next_deployment(platform, git_server):
    site = {"package.json": json.dumps({"name": "cfg", "private": True, "scripts": {
        "build": "mkdir -p dist && echo default > dist/index.html",
        "build:alt": "mkdir -p alt && echo alternative > alt/index.html"}})}
    project = create(platform, "configurable", git_server.make_repo("configurable", site))
    with platform.client() as c:
        r = c.patch(f"/v1/projects/{project['id']}",
                    json={"build_command": "npm run build:alt", "output_directory": "alt"})
        assert r.status_code == 200, r.text
        assert r.json()["settings"]["output_directory"] == "alt"
        assert c.get(f"/v1/projects/{project['id']}").json()["build_command"] == \
            "npm run build:alt"
        assert c.patch(f"/v1/projects/{project['id']}",
                       json={"output_directory": "../etc"}).status_code == 422
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    assert platform.wait_site(host(project["url"])).text.strip() == "alternative"


def node_log_line(platform: Platform, deployment_id: str) -> str:
    with platform.client() as c:
        lines = c.get(f"/v1/deployments/{deployment_id}/logs",
                      params={"stream": "system", "q": "Node.js"}).json()["lines"]
    return next(line["plain"] for line in lines if line["plain"].startswith("Node.js "))


def test_the_node_version_setting_overrides_the_repositorys_nvmrc(platform, git_server):
    """22 and 26 are the versions the other tests put in the host's tool cache."""
    site = {".nvmrc": "26\n", "package.json": json.dumps({"name": "pinned", "private": True,
            "scripts": {"build": "mkdir -p dist && node --version > dist/index.html"}})}
    project = create(platform, "node-setting", git_server.make_repo("node-setting", site))
    assert project["node_version"] is None
    path = f"/v1/projects/{project['id']}"
    before = topic_size(platform.kafka, "buildspace.events")
    with platform.client() as c:
        for bad in ("banana", ">=", "lts/nope", "2" * 65):
            r = c.patch(path, json={"node_version": bad, "build_network": True})
            assert r.status_code == 422, r.text
            assert [f["field"] for f in r.json()["error"]["fields"]] == ["node_version"]
        assert topic_size(platform.kafka, "buildspace.events") == before
        r = c.patch(path, json={"node_version": "22"})
        assert r.status_code == 200, r.text
        assert r.json()["settings"]["node_version"] == "22"
        shown = c.get(path).json()
        assert (shown["node_version"], shown["build_network"]) == ("22", False)

    accepted = deploy(platform, project["id"])
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done
    version = done["build"]["node_version"]
    assert version.startswith("22.")
    assert platform.wait_site(host(project["url"])).text.strip() == f"v{version}"
    assert node_log_line(platform, accepted["id"]) == \
        f"Node.js {version} (22 from the project settings)"

    with platform.client() as c:  # null: the repository's .nvmrc decides again
        r = c.patch(path, json={"node_version": None})
        assert r.status_code == 200 and r.json()["settings"]["node_version"] is None
    again = platform.wait_status(deploy(platform, project["id"])["id"], {"READY", "FAILED"})
    assert again["status"] == "READY", again
    assert again["build"]["node_version"].startswith("26.")
    assert node_log_line(platform, again["id"]) == \
        f"Node.js {again['build']['node_version']} (.nvmrc wants 26)"
