"""Deleting a project: its URLs 404 at the edge at once, the API forgets it, its name
and custom domain are free again, and after the retention window (0 here) its
artifacts are collected, except blobs another project's deployment still uses."""

from __future__ import annotations

import contextlib
from typing import Any

from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.envelope import new_id
from tests.e2e.test_deploy import host
from tests.e2e.test_lifecycle import deploy
from tests.e2e.test_remote_builder import platform_s3
from tests.support.gitserver import GitServer
from tests.support.platform import Platform
from tests.support.waiting import eventually

BUCKET = "buildspace-artifacts"
# Over 256 bytes of text: published with gzip and brotli variants, blobs themselves.
SHARED_JS = "export const shared = 'the same in both projects';\n" * 20


def site(label: str) -> dict[str, str]:
    return {"index.html": f"<p>{label}</p>" + "<!-- unique to this project -->" * 20 +
            f"<!-- {label} -->", "shared.js": SHARED_JS}


def create(platform: Platform, name: str, url: str) -> dict[str, Any]:
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": name, "git_url": url})
        assert r.status_code == 201, r.text
        return dict(r.json())


def exists(s3: Any, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"))


def manifest(s3: Any, deployment_id: str) -> Manifest:
    raw = s3.get_object(Bucket=BUCKET, Key=manifest_key(deployment_id))["Body"].read()
    return Manifest.model_validate_json(raw)


def blob_keys(m: Manifest, path: str) -> set[str]:
    return {blob_key(sha) for sha, _ in m.files[path].blobs()}


def wait_gone(s3: Any, keys: set[str], timeout: float = 30) -> set[str]:
    """The keys still there at the timeout (none once collected)."""
    left: list[set[str]] = []

    def collected() -> bool:
        left.append({k for k in keys if exists(s3, k)})
        return not left[-1]
    with contextlib.suppress(AssertionError):  # the caller judges what is left
        eventually(collected, timeout, what=f"{len(keys)} keys collected", interval=0.1)
    return left[-1]


def test_deleting_a_project_stops_serving_frees_its_names_and_collects_artifacts(
        platform: Platform, git_server: GitServer):
    name = f"doomed-{new_id()[:8]}"
    doomed = create(platform, name, git_server.make_repo(name, site(name)))
    keeper = create(platform, f"keeper-{name}",
                    git_server.make_repo(f"keeper-{name}", site(f"keeper-{name}")))
    domain = f"{name}.verified.test"
    with platform.client() as c:
        assert c.post(f"/v1/projects/{doomed['id']}/domains",
                      json={"hostname": domain}).status_code == 201
    gone_deployment = deploy(platform, doomed["id"])
    kept_deployment = deploy(platform, keeper["id"])
    sub, immutable = host(doomed["url"]), host(gone_deployment["url"])
    for hostname in (sub, immutable, domain):
        assert platform.wait_site(hostname).status_code == 200, hostname

    s3 = platform_s3(platform)
    theirs, ours = manifest(s3, gone_deployment["id"]), manifest(s3, kept_deployment["id"])
    unique, shared = blob_keys(theirs, "index.html"), blob_keys(theirs, "shared.js")
    assert len(shared) == 3 and shared == blob_keys(ours, "shared.js")  # file, gzip, br
    assert len(unique) == 3 and all(exists(s3, k) for k in unique | shared)

    with platform.client() as c:
        r = c.delete(f"/v1/projects/{doomed['id']}")
        assert r.status_code == 202, r.text
        assert r.json()["id"] == doomed["id"] and r.json()["status"] == "deleted"
    for hostname in (sub, immutable, domain):  # the edge forgets it at once
        assert platform.wait_site(hostname, status=404).status_code == 404, hostname
    assert platform.get_site(host(keeper["url"])).status_code == 200

    with platform.client() as c:
        pid = doomed["id"]
        assert c.get(f"/v1/projects/{pid}").status_code == 404
        assert pid not in {p["id"] for p in c.get("/v1/projects").json()}
        assert c.get(f"/v1/deployments/{gone_deployment['id']}").status_code == 404
        assert c.post(f"/v1/projects/{pid}/deployments").status_code == 404
        assert c.delete(f"/v1/projects/{pid}").status_code == 404  # deleting twice
        assert c.delete("/v1/projects/nope").status_code == 404

    # The name, subdomain and custom domain can be taken by a new project.
    again = create(platform, name, git_server.make_repo(f"{name}-again", {
        "index.html": "<p>a new project</p>"}))
    assert again["subdomain"] == doomed["subdomain"] and again["id"] != doomed["id"]
    with platform.client() as c:
        assert c.post(f"/v1/projects/{again['id']}/domains",
                      json={"hostname": domain}).status_code == 201

    # Collected: the manifest and the blobs only it used; the shared ones stay.
    assert wait_gone(s3, unique | {manifest_key(gone_deployment["id"])}) == set()
    assert all(exists(s3, k) for k in shared)
    assert exists(s3, manifest_key(kept_deployment["id"]))
    assert platform.get_site(host(keeper["url"]), "/shared.js").text == SHARED_JS

    deploy(platform, again["id"])
    assert platform.wait_site(sub).text == "<p>a new project</p>"
    assert platform.wait_site(domain).text == "<p>a new project</p>"
