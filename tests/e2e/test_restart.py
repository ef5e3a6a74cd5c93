"""Stop the whole stack and start it again: every project, deployment, log line and
route is still there and the site is still served."""

from __future__ import annotations

from tests.e2e.test_deploy import create, deploy, host


def test_everything_survives_a_restart(platform, git_server):
    url = git_server.make_repo("durable", {"index.html": "<p>still here</p>"})
    project = create(platform, "durable", url)
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    with platform.client() as c:
        before = {
            "projects": c.get("/v1/projects").json(),
            "deployment": c.get(f"/v1/deployments/{accepted['id']}").json(),
            "logs": c.get(f"/v1/deployments/{accepted['id']}/logs").json(),
        }
    assert before["logs"]["lines"]
    assert platform.wait_site(host(project["url"])).text == "<p>still here</p>"

    assert platform.stop() == 0
    assert platform.orphans() == []
    platform.start()

    with platform.client() as c:
        assert c.get("/v1/projects").json() == before["projects"]
        assert c.get(f"/v1/deployments/{accepted['id']}").json() == before["deployment"]
        assert c.get(f"/v1/deployments/{accepted['id']}/logs").json() == before["logs"]
    assert platform.get_site(host(project["url"])).text == "<p>still here</p>"
    again = deploy(platform, project["id"])
    assert platform.wait_status(again["id"], {"READY", "FAILED"})["status"] == "READY"
