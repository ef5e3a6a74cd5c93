"""Production and previews: promote and rollback switch the production deployment at
the edge without a rebuild (automatic promotion pauses after a rollback), other
branches get preview URLs, and a deployment can be built again."""

from __future__ import annotations

import contextlib
from typing import Any

from tests.e2e.test_deploy import create, host
from tests.support.gitserver import GitServer
from tests.support.platform import Platform
from tests.support.waiting import eventually


def page(version: str) -> dict[str, str]:
    return {"index.html": f"<p>{version}</p>"}


def deploy(platform: Platform, project_id: str, **body: Any) -> dict[str, Any]:
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/deployments", json=body or None)
        assert r.status_code == 202, r.text
        accepted = r.json()
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done
    return done


def serves(platform: Platform, hostname: str, text: str, timeout: float = 10) -> str:
    """What the edge serves at ``hostname`` once it shows ``text`` (or at the timeout)."""
    bodies: list[str] = []

    def shown() -> bool:
        bodies.append(platform.get_site(hostname).text)
        return bodies[-1] == text
    with contextlib.suppress(AssertionError):  # the caller judges the last body
        eventually(shown, timeout, what=f"{hostname} serves {text!r}")
    return bodies[-1]


def project_state(platform: Platform, project_id: str) -> tuple[str | None, bool]:
    with platform.client() as c:
        body = c.get(f"/v1/projects/{project_id}").json()
    return body["production_deployment_id"], body["auto_promotion"]


def test_rollback_and_promote_switch_production_without_a_rebuild(platform: Platform,
                                                                   git_server: GitServer):
    url = git_server.make_repo("lifecycle", page("one"))
    project = create(platform, "lifecycle", url)
    site, pid = host(project["url"]), project["id"]
    d1 = deploy(platform, pid)
    git_server.commit("lifecycle", page("two"))
    d2 = deploy(platform, pid)
    assert serves(platform, site, "<p>two</p>") == "<p>two</p>"
    assert project_state(platform, pid) == (d2["id"], True)

    with platform.client() as c:
        r = c.post(f"/v1/projects/{pid}/rollback")
        assert r.status_code == 200, r.text
        assert r.json() == {"project_id": pid, "production_deployment_id": d1["id"],
                            "auto_promotion": False}
    assert serves(platform, site, "<p>one</p>") == "<p>one</p>"
    assert project_state(platform, pid) == (d1["id"], False)
    with platform.client() as c:  # nothing older than the first deployment
        r = c.post(f"/v1/projects/{pid}/rollback")
        assert r.status_code == 409 and "no earlier production deployment" in r.text

    # Automatic promotion is paused: a new production deployment does not go live ...
    git_server.commit("lifecycle", page("three"))
    d3 = deploy(platform, pid)
    assert platform.get_site(host(d3["url"])).text == "<p>three</p>"
    assert serves(platform, site, "<p>three</p>", timeout=1) == "<p>one</p>"
    assert project_state(platform, pid) == (d1["id"], False)

    # ... until a deployment is promoted.
    with platform.client() as c:
        r = c.post(f"/v1/projects/{pid}/promote", json={"deployment_id": d3["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["auto_promotion"] is True
    assert serves(platform, site, "<p>three</p>") == "<p>three</p>"
    git_server.commit("lifecycle", page("four"))
    d4 = deploy(platform, pid)
    assert serves(platform, site, "<p>four</p>") == "<p>four</p>"
    assert project_state(platform, pid) == (d4["id"], True)

    # A rollback may name any earlier production deployment.
    with platform.client() as c:
        r = c.post(f"/v1/projects/{pid}/rollback", json={"deployment_id": d2["id"]})
        assert r.status_code == 200, r.text
    assert serves(platform, site, "<p>two</p>") == "<p>two</p>"


def test_promote_and_rollback_refuse_what_they_cannot_do(platform: Platform,
                                                         git_server: GitServer):
    project = create(platform, "refusals", git_server.make_repo("refusals", page("x")))
    other = create(platform, "other refusals", git_server.make_repo("other-ref", page("y")))
    pid = project["id"]
    with platform.client() as c:
        assert c.post(f"/v1/projects/{pid}/rollback").status_code == 409
        assert c.post(f"/v1/projects/{pid}/promote",
                      json={"deployment_id": "nope"}).status_code == 404
        assert c.post(f"/v1/projects/{pid}/promote", json={}).status_code == 422
        assert c.post("/v1/projects/nope/promote",
                      json={"deployment_id": "x"}).status_code == 404
    theirs = deploy(platform, other["id"])
    mine = deploy(platform, pid)
    with platform.client() as c:
        assert c.post(f"/v1/projects/{pid}/promote",
                      json={"deployment_id": theirs["id"]}).status_code == 404
        assert c.post(f"/v1/projects/{pid}/rollback",
                      json={"deployment_id": mine["id"]}).status_code == 409
    assert project_state(platform, pid) == (mine["id"], True)


def test_other_branches_get_preview_urls_and_leave_production_alone(platform: Platform,
                                                                     git_server: GitServer):
    url = git_server.make_repo("previews", page("main"))
    project = create(platform, "previews", url)
    pid, site = project["id"], host(project["url"])
    production = deploy(platform, pid)
    assert production["target"] == "production" and production["branch"] == "main"
    git_server.commit("previews", page("login work"), branch="Feature/Login-Page")
    preview = deploy(platform, pid, ref="Feature/Login-Page")
    assert (preview["target"], preview["branch"]) == ("preview", "Feature/Login-Page")
    label = f"feature-login-page-{project['subdomain']}.localhost"
    assert platform.wait_site(label).text == "<p>login work</p>"
    assert platform.get_site(host(preview["url"])).text == "<p>login work</p>"
    assert platform.get_site(site).text == "<p>main</p>"
    assert project_state(platform, pid) == (production["id"], True)

    git_server.commit("previews", page("login done"), branch="Feature/Login-Page")
    deploy(platform, pid, ref="Feature/Login-Page")
    assert serves(platform, label, "<p>login done</p>") == "<p>login done</p>"
    with platform.client() as c:  # a preview can be promoted by hand
        assert c.post(f"/v1/projects/{pid}/promote",
                      json={"deployment_id": preview["id"]}).status_code == 200
    assert serves(platform, site, "<p>login work</p>") == "<p>login work</p>"


def test_redeploy_builds_the_same_commit_again(platform: Platform, git_server: GitServer):
    url = git_server.make_repo("redeploy", {
        "package.json": '{"name": "r", "private": true, "scripts": {"build": '
                        '"mkdir -p dist && date +%s%N > dist/index.html"}}'})
    project = create(platform, "redeploy", url)
    first = deploy(platform, project["id"])
    git_server.commit("redeploy", {"README": "newer commit"})
    with platform.client() as c:
        r = c.post(f"/v1/deployments/{first['id']}/redeploy")
        assert r.status_code == 202, r.text
        again = r.json()
        assert c.post("/v1/deployments/nope/redeploy").status_code == 404
    done = platform.wait_status(again["id"], {"READY", "FAILED"})
    assert done["status"] == "READY", done
    assert done["commit_sha"] == first["commit_sha"] and done["id"] != first["id"]
    assert (done["branch"], done["target"]) == ("main", "production")
    first_page = platform.get_site(host(first["url"])).text
    assert platform.get_site(host(done["url"])).text != first_page  # built afresh
