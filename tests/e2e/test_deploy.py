"""Deploy real repositories end to end: git server -> API -> Kafka -> sandboxed build
-> object storage -> edge."""

from __future__ import annotations

import json
import re

from tests.support.platform import Platform

STATIC_BUILD = """
const fs = require('fs');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/index.html', '<h1>' + require('./version.json').v + '</h1>');
console.log('wrote version', require('./version.json').v);
"""


def node_site(version: str, *, fail: bool = False) -> dict[str, str]:
    build = "node build.js" + (" && echo 'boom: the build broke' >&2 && exit 1" if fail else "")
    return {
        "package.json": json.dumps({"name": "s", "private": True, "scripts": {"build": build}}),
        "build.js": STATIC_BUILD,
        "version.json": json.dumps({"v": version}),
    }


def create(platform: Platform, name: str, url: str) -> dict:
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": name, "git_url": url})
        assert r.status_code == 201, r.text
        return r.json()


def deploy(platform: Platform, project_id: str, **body: str) -> dict:
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/deployments", json=body or None)
        assert r.status_code == 202, r.text
        return r.json()


def host(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


def test_a_vite_app_is_built_and_served_at_its_subdomain(platform, git_server, vite_app):
    sources, built = vite_app
    project = create(platform, "Vite Fixture", git_server.make_repo("vite", sources))
    assert project["subdomain"] == "vite-fixture"
    assert project["url"] == f"http://vite-fixture.localhost:{platform.edge_port}"
    with platform.client() as c:  # read-your-writes: no spurious 404 right after the POST
        assert c.get(f"/v1/projects/{project['id']}").json()["name"] == "Vite Fixture"

    accepted = deploy(platform, project["id"])
    assert accepted["status"] == "QUEUED" and accepted["project_url"] == project["url"]
    with platform.client() as c:
        assert c.get(f"/v1/deployments/{accepted['id']}").status_code == 200
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done["failure_reason"]
    assert re.fullmatch(r"[0-9a-f]{40}", done["commit_sha"])
    build = done["build"]  # how it was built, in the deployment's JSON
    assert (build["framework"], build["output_directory"], build["spa_fallback"]) == (
        "vite", "dist", True)
    assert build["package_manager"].startswith("npm@1") and build["node_version"]

    index = platform.wait_site(host(project["url"]))
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.content == built["index.html"]
    asset = next(p for p in built if p.startswith("assets/") and p.endswith(".js"))
    js = platform.get_site(host(project["url"]), "/" + asset)
    assert js.status_code == 200 and js.content == built[asset]
    assert "javascript" in js.headers["content-type"]
    assert platform.get_site(host(accepted["url"])).content == built["index.html"]
    assert platform.get_site(host(project["url"]), "/missing.html").status_code == 404
    # A Vite app without a 404.html is a single-page app: client routes get index.html.
    client_route = platform.get_site(host(project["url"]), "/settings/profile")
    assert client_route.status_code == 200 and client_route.content == built["index.html"]

    with platform.client() as c:
        page = c.get(f"/v1/deployments/{accepted['id']}/logs", params={"limit": 5}).json()
        seqs = [line["seq"] for line in page["lines"]]
        assert seqs == sorted(seqs) and len(seqs) == 5 and page["has_more"]
        rest = c.get(f"/v1/deployments/{accepted['id']}/logs",
                     params={"after_seq": page["next_after_seq"], "limit": 1000}).json()
        assert rest["lines"][0]["seq"] > seqs[-1]
        text = "\n".join(line["line"] for line in page["lines"] + rest["lines"])
        assert "vite" in text and "built in" in text
        listed = c.get(f"/v1/projects/{project['id']}/deployments").json()
        assert [d["id"] for d in listed] == [accepted["id"]]


def test_a_failed_build_is_reported_and_never_changes_what_is_served(platform, git_server):
    url = git_server.make_repo("flaky", node_site("one"))
    project = create(platform, "flaky", url)
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    site = host(project["url"])
    assert platform.wait_site(site).text == "<h1>one</h1>"

    git_server.commit("flaky", node_site("two", fail=True))
    second = deploy(platform, project["id"])
    failed = platform.wait_status(second["id"], {"READY", "FAILED"})
    assert failed["status"] == "FAILED"
    assert "exit" in failed["failure_reason"] and "1" in failed["failure_reason"]
    with platform.client() as c:
        lines = c.get(f"/v1/deployments/{second['id']}/logs").json()["lines"]
    assert any("boom: the build broke" in line["line"] for line in lines)
    assert any(line["stream"] == "stderr" for line in lines)
    assert platform.get_site(site).text == "<h1>one</h1>"
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}").json()["production_deployment_id"] == \
            first["id"]


def test_a_repository_without_package_json_is_served_as_it_is(platform, git_server):
    url = git_server.make_repo("plain", {"index.html": "<p>plain</p>",
                                         "docs/index.html": "<p>docs</p>"})
    project = create(platform, "plain site", url)
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    site = host(project["url"])
    assert platform.wait_site(site).text == "<p>plain</p>"
    assert platform.get_site(site, "/docs/").text == "<p>docs</p>"
    assert platform.get_site(site, "/../../etc/passwd").status_code == 404
    assert platform.get_site("nobody.localhost").status_code == 404


def system_log(platform: Platform, deployment_id: str) -> list[str]:
    with platform.client() as c:
        lines = c.get(f"/v1/deployments/{deployment_id}/logs",
                      params={"stream": "system", "limit": 1000}).json()["lines"]
    return [line["line"] for line in lines]


def test_a_redeploy_of_the_same_commit_reuses_the_output_unless_asked_not_to(
        platform, git_server):
    project = create(platform, "reuse", git_server.make_repo("reuse", node_site("same")))
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    again = deploy(platform, project["id"])
    done = platform.wait_status(again["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done
    log = system_log(platform, again["id"])
    assert any(line.startswith("Build output restored from the cache") for line in log), log
    assert "Running `npm run build` (no network)" not in log
    assert platform.get_site(host(again["url"])).text == "<h1>same</h1>"

    with platform.client() as c:
        r = c.post(f"/v1/projects/{project['id']}/deployments", json={"build_cache": False})
        assert r.status_code == 202, r.text
        forced = r.json()
        assert c.post(f"/v1/projects/{project['id']}/deployments",
                      json={"build_cache": "sometimes"}).status_code == 422
    assert platform.wait_status(forced["id"], {"READY", "FAILED"})["status"] == "READY"
    log = system_log(platform, forced["id"])
    assert "Running `npm run build` (no network)" in log, log
    assert not any(line.startswith("Build output restored") for line in log)


def test_a_deployment_names_the_user_who_requested_it(platform, git_server):
    project = create(platform, "requested", git_server.make_repo("requested", {
        "index.html": "<p>requested</p>"}))
    by_owner = deploy(platform, project["id"])
    with platform.client() as c:
        hook = c.post(f"/v1/projects/{project['id']}/deploy-hooks", json={"name": "CMS"}).json()
        token = c.post("/v1/tokens", json={"name": "requested-ci", "scopes": ["deploy"]}
                       ).json()["token"]
    by_token = deploy_with(platform, token, project["id"])
    with platform.anonymous() as anyone:
        by_hook = anyone.post("/v1/hooks/" + hook["url"].rsplit("/v1/hooks/", 1)[1]).json()
    for accepted, email in ((by_owner, platform.admin_email), (by_token, platform.admin_email),
                            (by_hook, None)):
        done = platform.wait_status(accepted["id"], {"READY", "FAILED", "CANCELED"})
        assert done["requested_by"] == email, done
    with platform.client() as c:
        listed = c.get(f"/v1/projects/{project['id']}/deployments").json()
    assert {d["id"]: d["requested_by"] for d in listed} == {
        by_owner["id"]: platform.admin_email, by_token["id"]: platform.admin_email,
        by_hook["id"]: None}


def deploy_with(platform: Platform, token: str, project_id: str) -> dict:
    with platform.client(token) as c:
        r = c.post(f"/v1/projects/{project_id}/deployments")
        assert r.status_code == 202, r.text
        return r.json()
