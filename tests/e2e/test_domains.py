"""Custom domains end to end: add, validate, claim, verify by a DNS TXT record (a real
DNS server on 127.0.0.1), the verified-domains setting, and the edge serving the
project at the domain, following new deployments, until the domain is removed."""

from __future__ import annotations

import contextlib
import re

import httpx
import orjson
import pytest

from schemas.envelope import new_id
from tests.support.dns import DnsServer
from tests.support.kafka import find_event, produce, topic_size
from tests.support.platform import Platform
from tests.support.waiting import eventually

REPO = "http://127.0.0.1:1/acme/site.git"


def create(platform: Platform, url: str = REPO) -> str:
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": f"dom-{new_id()[:10]}", "git_url": url})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def add(platform: Platform, project_id: str, hostname: str) -> httpx.Response:
    with platform.client() as c:
        return c.post(f"/v1/projects/{project_id}/domains", json={"hostname": hostname})


def verify(platform: Platform, project_id: str, hostname: str) -> httpx.Response:
    with platform.client() as c:
        return c.post(f"/v1/projects/{project_id}/domains/{hostname}/verify")


def listed(platform: Platform, project_id: str) -> list[dict]:
    with platform.client() as c:
        r = c.get(f"/v1/projects/{project_id}/domains")
        assert r.status_code == 200, r.text
        return list(r.json())


def deploy_ready(platform: Platform, project_id: str) -> str:
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/deployments")
        assert r.status_code == 202, r.text
    deployment_id = str(r.json()["id"])
    assert platform.wait_status(deployment_id, {"READY", "FAILED"})["status"] == "READY"
    return deployment_id


def wait_text(platform: Platform, host: str, text: str, timeout: float = 10) -> str:
    """What the edge serves at ``host`` once it is ``text`` (or at the timeout)."""
    bodies: list[str] = []

    def shown() -> bool:
        bodies.append(platform.get_site(host).text)
        return bodies[-1] == text
    with contextlib.suppress(AssertionError):  # the caller judges the last body
        eventually(shown, timeout, what=f"{host} serves {text!r}")
    return bodies[-1]


def unique(suffix: str = "example.test") -> str:
    return f"www-{new_id()[:10]}.{suffix}"


def test_adding_a_domain_answers_with_the_txt_record_to_create(platform):
    project_id, hostname = create(platform), unique()
    r = add(platform, project_id, hostname.upper() + ".")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["hostname"] == hostname and body["project_id"] == project_id
    assert body["verified"] is False and body["status"] == "pending_verification"
    record = body["verification"]
    assert record["type"] == "TXT" and record["name"] == f"_buildspace.{hostname}"
    assert re.fullmatch(r"buildspace-verify=[0-9a-f]{32}", record["value"])
    assert body["url"] == f"http://{hostname}:{platform.edge_port}"
    [row] = listed(platform, project_id)  # read-your-writes
    assert row["verification"] == record and row["verified"] is False and row["created_at"]
    event = find_event(platform.kafka, "buildspace.events",
                       lambda e: e.get("type") == "DomainAdded" and e["hostname"] == hostname)
    assert event["project_id"] == project_id and record["value"].endswith(event["token"])


BAD_HOSTNAMES = [
    {"hostname": "www.example.test:8080"},
    {"hostname": "10.1.2.3"},
    {"hostname": "shop.localhost"},  # under the platform's base domain
    {"hostname": "https://www.example.test/"},
    {"hostname": "bad_label.example.test"},
    {"hostname": "*.example.test"},
    {"hostname": "nodots"},
    {"hostname": ""},
    {"hostname": 42},
    {},
]


@pytest.mark.parametrize("body", BAD_HOSTNAMES)
def test_bad_hostnames_are_rejected_naming_the_field_and_append_nothing(platform, body):
    project_id = create(platform)
    before = topic_size(platform.kafka, "buildspace.events")
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/domains", json=body)
    assert r.status_code == 422, r.text
    assert "hostname" in {f["field"] for f in r.json()["error"]["fields"]}
    assert topic_size(platform.kafka, "buildspace.events") == before
    assert listed(platform, project_id) == []


def test_unknown_projects_and_domains_are_not_found(platform):
    project_id = create(platform)
    with platform.client() as c:
        assert c.post("/v1/projects/nope/domains", json={"hostname": unique()}
                      ).status_code == 404
        assert c.get("/v1/projects/nope/domains").status_code == 404
        assert c.post(f"/v1/projects/{project_id}/domains/{unique()}/verify").status_code == 404
        assert c.delete(f"/v1/projects/{project_id}/domains/{unique()}").status_code == 404


def test_a_hostname_belongs_to_one_project_at_a_time(platform):
    first, second, hostname = create(platform), create(platform), unique()
    assert add(platform, first, hostname).status_code == 201
    taken = add(platform, second, hostname.upper())
    assert taken.status_code == 409
    assert taken.json()["error"]["fields"][0]["field"] == "hostname"
    assert add(platform, first, hostname).status_code == 409
    assert listed(platform, second) == []
    with platform.client() as c:
        assert c.delete(f"/v1/projects/{first}/domains/{hostname.upper()}").status_code == 204
    assert listed(platform, first) == []
    assert add(platform, second, hostname).status_code == 201  # the claim was released
    assert [d["hostname"] for d in listed(platform, second)] == [hostname]


def test_a_domain_is_verified_by_its_dns_txt_record(platform, dns_server: DnsServer):
    project_id, hostname = create(platform), unique()
    record = add(platform, project_id, hostname).json()["verification"]
    before = topic_size(platform.kafka, "buildspace.events")

    missing = verify(platform, project_id, hostname)
    assert missing.status_code == 409
    error = missing.json()["error"]
    assert f"TXT record _buildspace.{hostname}" in error["message"]
    assert record["value"] in error["message"] and "does not exist" in error["message"]
    assert error["verification"] == record

    dns_server.txt[record["name"]] = ["buildspace-verify=somebody-else"]
    wrong = verify(platform, project_id, hostname)
    assert wrong.status_code == 409 and "somebody-else" in wrong.json()["error"]["message"]
    assert topic_size(platform.kafka, "buildspace.events") == before
    assert listed(platform, project_id)[0]["verified"] is False

    dns_server.txt[record["name"]] = ["v=spf1 -all", record["value"]]
    ok = verify(platform, project_id, hostname)
    assert ok.status_code == 200, ok.text
    assert ok.json()["verified"] is True and ok.json()["status"] == "verified"
    [row] = listed(platform, project_id)
    assert row["verified"] is True and row["verified_at"]
    after = topic_size(platform.kafka, "buildspace.events")
    assert verify(platform, project_id, hostname).json()["verified"] is True  # idempotent
    assert topic_size(platform.kafka, "buildspace.events") == after


def test_the_verified_domains_setting_verifies_on_add(platform):
    project_id, hostname = create(platform), unique("verified.test")
    r = add(platform, project_id, hostname)
    assert r.status_code == 201 and r.json()["verified"] is True, r.text
    assert listed(platform, project_id)[0]["status"] == "verified"


def test_the_edge_serves_the_project_at_its_custom_domains(platform, git_server, dns_server):
    name = f"domains-{new_id()[:8]}"
    project_id = create(platform, git_server.make_repo(name, {"index.html": "<p>one</p>"}))
    early = unique("verified.test")  # verified before the project has any deployment
    assert add(platform, project_id, early).json()["verified"] is True
    deploy_ready(platform, project_id)
    early_host = f"{early.upper()}:8443"  # case and port do not matter
    assert wait_text(platform, early_host, "<p>one</p>") == "<p>one</p>"
    assert platform.get_site(unique()).status_code == 404  # an unknown host

    late = unique()  # verified by DNS once the project is already live
    record = add(platform, project_id, late).json()["verification"]
    assert platform.get_site(late).status_code == 404  # not served before verification
    dns_server.txt[record["name"]] = [record["value"]]
    assert verify(platform, project_id, late).status_code == 200
    assert wait_text(platform, late, "<p>one</p>") == "<p>one</p>"

    git_server.commit(name, {"index.html": "<p>two</p>"})
    deploy_ready(platform, project_id)
    for host in (early_host, late):  # both follow the new production deployment
        assert wait_text(platform, host, "<p>two</p>") == "<p>two</p>"

    with platform.client() as c:
        assert c.delete(f"/v1/projects/{project_id}/domains/{early}").status_code == 204
    assert platform.wait_site(early_host, status=404).status_code == 404
    assert platform.get_site(late).text == "<p>two</p>"
    assert [d["hostname"] for d in listed(platform, project_id)] == [late]


def test_domain_commands_from_kafka_get_the_same_rules(platform):
    first, second, hostname = create(platform), create(platform), unique("verified.test")

    def command(project_id: str, host: str) -> dict:
        command_id = new_id()
        produce(platform.kafka, "buildspace.commands", orjson.dumps({
            "command_id": command_id,
            "command": {"type": "AddDomain", "project_id": project_id, "hostname": host}}))
        return find_event(platform.kafka, "buildspace.events",
                          lambda e: e.get("command_id") == command_id)

    assert command(first, hostname)["type"] == "CommandAccepted"
    taken, invalid = command(second, hostname), command(first, "10.0.0.1")
    assert (taken["type"], taken["status"]) == ("CommandRejected", 409)
    assert (invalid["type"], invalid["status"]) == ("CommandRejected", 422)
    # The domain is appended by the worker, not this API process.
    eventually(lambda: listed(platform, first), 10, what=f"{hostname} listed", interval=0.05)
    assert [(d["hostname"], d["verified"]) for d in listed(platform, first)] == [
        (hostname, True)]
