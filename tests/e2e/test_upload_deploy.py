"""Deploy a local directory without git: ``buildspace deploy`` (the real CLI, as a
subprocess) and the upload API against the running platform."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from builder.remote import RemoteTarget
from builder.upload_source import materialize, remote_source
from infra.grants import mint
from schemas.builds import BuildSpec
from tests.e2e.test_deploy import host, node_site
from tests.e2e.test_remote_builder import platform_key
from tests.support.platform import Platform
from tests.support.waiting import eventually

CSS = "body { color: #333; margin: 0 auto; }\n" * 40  # compressible: gets br/gzip variants


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def cli(platform: Platform, *args: str, timeout: float = 300,
        token: str | None = None) -> subprocess.CompletedProcess[str]:
    """``buildspace deploy`` signed in with BUILDSPACE_TOKEN (the owner's, by default)."""
    env = os.environ | {"BUILDSPACE_TOKEN": token or platform.token()}
    return subprocess.run([sys.executable, "-m", "infra.compose.cli", "deploy", *args,
                           "--api", platform.api], capture_output=True, text=True,
                          timeout=timeout, env=env)


def uploaded(run: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"^Uploaded (\d+) blobs$", run.stderr, re.M)
    assert found, run.stdout + run.stderr
    return int(found.group(1))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def site(tmp_path: Path) -> Path:
    return write(tmp_path / "site", {
        "index.html": "<h1>uploaded</h1>", "style.css": CSS, "app.js": "console.log(1)",
        "docs/about.html": "<p>about</p>", ".well-known/security.txt": "Contact: me",
        "_redirects": "/old /docs/about 301\n", ".env": "SECRET=1",
        "node_modules/dep/index.js": "x", ".git/HEAD": "ref: refs/heads/main",
    })


def test_a_directory_is_deployed_and_only_changed_files_are_uploaded(platform, tmp_path):
    root = site(tmp_path)
    first = cli(platform, str(root), "--name", "Upload Site")
    assert first.returncode == 0, first.stdout + first.stderr
    assert uploaded(first) == 6  # not .env, .git or node_modules
    assert first.stdout.count("\n") == 1, first.stdout  # the result only: its URL
    url = first.stdout.strip()
    assert url == f"http://upload-site.localhost:{platform.edge_port}"

    index = platform.wait_site(host(url))
    assert index.text == "<h1>uploaded</h1>"
    assert index.headers["content-type"].startswith("text/html")
    css = platform.get_site(host(url), "/style.css")
    assert css.text == CSS and css.headers["content-type"].startswith("text/css")
    packed = httpx.get(f"{platform.edge}/style.css", timeout=30,
                       headers={"Host": host(url), "Accept-Encoding": "br"})
    assert packed.headers.get("content-encoding") == "br"
    assert platform.get_site(host(url), "/app.js").headers["content-type"].startswith(
        "text/javascript")
    assert platform.get_site(host(url), "/.well-known/security.txt").text == "Contact: me"
    moved = platform.get_site(host(url), "/old", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/docs/about"
    assert platform.get_site(host(url), "/docs/about").text == "<p>about</p>"
    assert platform.get_site(host(url), "/_redirects").status_code == 404
    assert platform.get_site(host(url), "/.env").status_code == 404

    again = cli(platform, str(root), "--name", "Upload Site")
    assert again.returncode == 0 and uploaded(again) == 0, again.stdout + again.stderr

    (root / "index.html").write_text("<h1>changed</h1>")
    changed = cli(platform, str(root), "--name", "Upload Site")
    assert changed.returncode == 0 and uploaded(changed) == 1, changed.stdout + changed.stderr
    eventually(lambda: platform.get_site(host(url)).text == "<h1>changed</h1>", 10,
               what="the changed page served", interval=0.05)

    with platform.client() as c:
        project = c.get("/v1/projects").json()
        pid = next(p["id"] for p in project if p["name"] == "Upload Site")
        listed = c.get(f"/v1/projects/{pid}/deployments").json()
    assert [d["ref"] for d in listed] == ["upload"] * 3
    assert {d["status"] for d in listed} == {"READY"}
    assert listed[0]["uploaded_blobs"] == 1 and listed[1]["uploaded_blobs"] == 0


def create_project(platform: Platform, name: str) -> str:
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": name})
        assert r.status_code == 201, r.text
        assert r.json()["git_url"] == ""
        return r.json()["id"]


def deployments(platform: Platform, project_id: str) -> list[dict]:
    with platform.client() as c:
        return c.get(f"/v1/projects/{project_id}/deployments").json()


def test_bad_uploads_are_refused_naming_the_file_and_append_nothing(platform):
    pid = create_project(platform, "upload-checks")
    good = {"sha256": sha("x"), "size": 1}
    with platform.client() as c:
        for path in ("../etc/passwd", "/abs.html", "a//b.html", ".env", "dir/.htaccess",
                     "a\\b.html", "x" * 1100):
            r = c.post(f"/v1/projects/{pid}/uploads", json={"files": {path: good}})
            assert r.status_code == 422, (path, r.text)
            assert r.json()["error"]["fields"][0]["field"] == f"files.{path}", r.text
        for bad in ({"sha256": sha("x"), "size": -1}, {"sha256": "abc", "size": 1}):
            r = c.post(f"/v1/projects/{pid}/uploads", json={"files": {"a.html": bad}})
            assert r.status_code == 422 and "files.a.html" in r.text, r.text
        r = c.post(f"/v1/projects/{pid}/uploads",
                   json={"files": {"a": good, "a/b.html": good}})
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "files.a"
        assert c.post(f"/v1/projects/{pid}/uploads", json={"files": {}}).status_code == 422
        assert c.post("/v1/projects/nope/uploads",
                      json={"files": {"a.html": good}}).status_code == 404
        # A git-less project cannot deploy a commit.
        assert c.post(f"/v1/projects/{pid}/deployments").status_code == 409
    assert deployments(platform, pid) == []


def test_blobs_not_uploaded_or_not_matching_are_refused_and_append_nothing(platform):
    pid = create_project(platform, "upload-missing")
    other = create_project(platform, "upload-other")
    page, wrong = f"<p>{pid}</p>", f"<p>wrong {pid}</p>"
    files = {"index.html": {"sha256": sha(page), "size": len(page)},
             "wrong.html": {"sha256": sha(wrong), "size": len(wrong)}}
    with platform.client() as c:
        upload = c.post(f"/v1/projects/{pid}/uploads", json={"files": files}).json()
        assert {m["sha256"] for m in upload["missing"]} == {sha(page), sha(wrong)}
        grants = {m["sha256"]: m for m in upload["missing"]}
        deploy = f"/v1/projects/{pid}/uploads/{upload['upload_id']}/deploy"

        r = c.post(deploy)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["fields"][0]["field"] in ("files.index.html", "files.wrong.html")
        _put(grants[sha(page)], page.encode())
        r = c.post(deploy, json={"build": False})
        assert r.status_code == 409 and "files.wrong.html" in r.text, r.text
        _put(grants[sha(wrong)], b"<p>other bytes" + b"!" * (len(wrong) - 14))
        r = c.post(deploy)
        assert r.status_code == 422 and "files.wrong.html" in r.text, r.text
        assert "do not match" in r.text
        # The other project cannot deploy it; an unknown upload is 404.
        assert c.post(f"/v1/projects/{other}/uploads/{upload['upload_id']}/deploy"
                      ).status_code == 404
        assert c.post(f"/v1/projects/{pid}/uploads/{'0' * 32}/deploy").status_code == 404
        # The wrong bytes never entered the store: the blob is still missing.
        again = c.post(f"/v1/projects/{pid}/uploads", json={"files": files}).json()
        assert [m["sha256"] for m in again["missing"]] == [sha(wrong)]
    assert deployments(platform, pid) == []

    with platform.client() as c:
        _put(again["missing"][0], wrong.encode())
        r = c.post(f"/v1/projects/{pid}/uploads/{again['upload_id']}/deploy",
                   json={"target": "preview"})
        assert r.status_code == 202 and r.json()["status"] == "QUEUED", r.text
        accepted = r.json()
    assert platform.wait_site(host(accepted["url"]), "/wrong.html").text == wrong
    assert platform.get_site(host(accepted["project_url"])).status_code == 404  # a preview


def _put(grant: dict, body: bytes) -> None:
    r = httpx.put(grant["url"], content=body, headers=grant["headers"], timeout=30)
    assert r.is_success, r.text


def test_a_directory_is_built_on_the_platform_when_asked(platform, tmp_path):
    root = write(tmp_path / "app", node_site("from-upload"))
    built = cli(platform, str(root), "--name", "upload-build", "--build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert built.stdout.count("\n") == 1, built.stdout
    url = built.stdout.strip()
    assert platform.wait_site(host(url)).text == "<h1>from-upload</h1>"
    assert "Fetching the files of upload" in built.stderr  # the build log, followed

    again = cli(platform, str(root), "--name", "upload-build", "--build")
    assert again.returncode == 0 and uploaded(again) == 0, again.stdout + again.stderr
    assert "Build output restored from the cache" in again.stderr

    (root / "version.json").write_text(json.dumps({"v": "two"}))
    broken = write(tmp_path / "broken", node_site("three", fail=True))
    failed = cli(platform, str(broken), "--name", "upload-build", "--build")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout == "" and "FAILED" in failed.stderr and "exit" in failed.stderr
    assert platform.get_site(host(url)).text == "<h1>from-upload</h1>"


def test_a_malformed_site_configuration_fails_the_deployment_naming_the_line(platform,
                                                                             tmp_path):
    root = write(tmp_path / "bad", {"index.html": "<h1>never</h1>",
                                    "_redirects": "/fine /ok 301\n/only-a-source\n"})
    failed = cli(platform, str(root), "--name", "upload-bad-rules")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stdout == "" and "FAILED" in failed.stderr, failed.stderr
    assert "_redirects line 2" in failed.stderr, failed.stderr
    with platform.client() as c:
        pid = next(p["id"] for p in c.get("/v1/projects").json()
                   if p["name"] == "upload-bad-rules")
    [deployment] = deployments(platform, pid)
    assert deployment["status"] == "FAILED" and deployment["failure_step"] == "output"


def test_the_cli_explains_usage_and_connection_problems(platform, tmp_path):
    root = write(tmp_path / "s", {"index.html": "x"})
    unreachable = subprocess.run(
        [sys.executable, "-m", "infra.compose.cli", "deploy", str(root), "--api", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2 and "cannot reach the API" in unreachable.stderr
    missing = cli(platform, str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a directory" in missing.stderr
    unknown = cli(platform, str(root), "--project", "nope")
    assert unknown.returncode == 2 and "404" in unknown.stderr
    unsigned = cli(platform, str(root), token="bs_" + "0" * 43)
    assert unsigned.returncode == 2 and "BUILDSPACE_TOKEN" in unsigned.stderr
    both = cli(platform, str(root), "--prod", "--preview")
    assert both.returncode == 2


def test_a_remote_builder_fetches_the_uploaded_files_with_its_grant(platform, tmp_path):
    """What an ECS builder of an upload does: the files come from
    ``GET /v1/builds/{id}/source`` with presigned URLs, while the build runs."""
    files = node_site("slow") | {"package.json": json.dumps({"name": "s", "private": True,
                                 "scripts": {"build": "sleep 4 && node build.js"}})}
    root = write(tmp_path / "slow", files)
    run = cli(platform, str(root), "--name", "upload-remote", "--build", "--no-wait", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    accepted = json.loads(run.stdout)
    assert accepted["status"] == "QUEUED"
    deployment_id = accepted["id"]
    building = platform.wait_status(deployment_id, {"BUILDING", "READY", "FAILED"})
    assert building["status"] == "BUILDING", building
    grant = mint(platform_key(platform), deployment_id, building["project_id"], 600)
    target = RemoteTarget(platform.api, grant)
    spec = BuildSpec(project_id=building["project_id"], deployment_id=deployment_id,
                     git_url="", ref="upload", upload_id="unused-by-the-api-source")
    fetched = materialize(remote_source(target, deployment_id), spec, tmp_path / "checkout")
    assert fetched.files == 3
    assert (tmp_path / "checkout" / "build.js").read_text() == files["build.js"]
    with httpx.Client(base_url=platform.api) as c:
        assert c.get(f"/v1/builds/{deployment_id}/source").status_code == 401
    assert platform.wait_status(deployment_id, {"READY", "FAILED"})["status"] == "READY"
    with httpx.Client(base_url=platform.api, headers=target.headers) as c:
        assert c.get(f"/v1/builds/{deployment_id}/source").status_code == 409  # finished


def test_deploy_acts_on_the_linked_project(platform, tmp_path):
    """``buildspace link`` then ``buildspace deploy --prebuilt``, with no name: the
    linked project gets the deployment (not one named after the directory)."""
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "upload-linked"}).json()
    root = write(tmp_path / "elsewhere", {"index.html": "<p>linked</p>"})
    env = os.environ | {"BUILDSPACE_TOKEN": platform.token(), "BUILDSPACE_API_URL": platform.api,
                        "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for args in (["link", "upload-linked"], ["deploy", "--prebuilt", "--json"]):
        run = subprocess.run([sys.executable, "-m", "infra.compose.cli", *args], cwd=root,
                             capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
    deployed = json.loads(run.stdout)
    assert deployed["project_id"] == project["id"] and deployed["status"] == "READY"
    assert platform.wait_site(host(deployed["project_url"])).text == "<p>linked</p>"
    with platform.client() as c:
        assert all(p["name"] != "elsewhere" for p in c.get("/v1/projects").json())
