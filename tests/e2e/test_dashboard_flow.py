"""The whole story in one browser session, as a user lives it: sign in, create a
project from a git URL, deploy and watch the log arrive while it builds, see READY and
open the site, change a variable and redeploy, roll back and see the edge serve the old
site, make and revoke a token; then a viewer of the team, who gets no deploy button and
whom the API refuses anyway. The screenshots of each screen are saved under
``test-output/screenshots/``."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from schemas.envelope import new_id
from tests.e2e.test_authorization import join
from tests.e2e.test_deploy import host
from tests.e2e.test_domains import wait_text
from tests.support.browser import check_screen, context, sign_in
from tests.support.gitserver import GitServer
from tests.support.platform import Platform

BUILD = 240_000  # ms: a build on a shared, busy machine
GREETING_SITE = """
let i = 0;
const t = setInterval(() => {
  i++; console.log('building step ' + i);
  if (i === 40) {
    clearInterval(t);
    require('fs').mkdirSync('dist', { recursive: true });
    require('fs').writeFileSync('dist/index.html',
      '<p>' + (process.env.GREETING || 'hello') + '</p>');
  }
}, 100);
"""


def repo() -> dict[str, str]:
    return {"package.json": json.dumps({"name": "flow", "private": True,
                                        "scripts": {"build": "node build.js"}}),
            "build.js": GREETING_SITE}


def confirm(page: Page, button: str) -> None:
    page.get_by_role("dialog").get_by_role("button", name=button, exact=True).click()


def test_a_user_goes_from_git_url_to_rollback_in_the_dashboard(
        platform: Platform, page: Page, browser: Browser, git_server: GitServer):
    name = f"flow-{new_id()[:8]}"
    url = git_server.make_repo(name, repo())
    with platform.client() as c:  # a team of its own, so that a viewer can join it
        team = c.post("/v1/teams", json={"name": f"crew-{new_id()[:6]}"}).json()

    # 1-2: signed in (the fixture used the form); a project from a git URL.
    page.goto("/#/")
    page.reload()  # the team list is read when a page is opened
    maker = page.get_by_role("form", name="New project")
    maker.get_by_label("Name").fill(name)
    maker.get_by_label("Git repository URL").fill(url)
    maker.get_by_label("Team").select_option(team["id"])
    maker.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    project_id = page.url.rsplit("/", 1)[1]

    # 3: deploy, and see the log arrive while it builds.
    page.get_by_role("button", name="Deploy", exact=True).click()
    first = page.locator("table.deployments tr[data-number='1']")
    first.get_by_role("link").first.click()
    log = page.get_by_role("region", name="Build log")
    expect(log.get_by_text("building step 3", exact=True)).to_be_visible(timeout=BUILD)
    expect(page.locator(".live-status")).to_have_text("BUILDING")
    check_screen(page, "flow-deployment-building")

    # 4: READY, live; the site opens from the page.
    expect(page.locator(".live-status")).to_have_text("READY", timeout=BUILD)
    site = f"http://{name}.localhost:{platform.edge.rsplit(':', 1)[1]}"
    with page.context.expect_page() as opened:
        page.locator("dl.facts").get_by_role("link", name=re.compile(r"localhost:\d+")
                                             ).first.click()
    tab = opened.value
    tab.wait_for_load_state()
    expect(tab.locator("p")).to_have_text("hello")
    tab.close()
    assert wait_text(platform, host(site), "<p>hello</p>") == "<p>hello</p>"

    # 5: a variable, then a redeploy that builds with it.
    page.goto(f"/#/projects/{project_id}/settings")
    env = page.get_by_role("region", name="Environment variables")
    env.get_by_label("Name").fill("GREETING")
    env.get_by_label("Value").fill("bonjour")
    env.get_by_role("button", name="Save variable").click()
    expect(env.locator("tr[data-env=GREETING]")).to_be_visible()
    page.goto(f"/#/projects/{project_id}")
    first.get_by_role("button", name=re.compile("^Redeploy")).click()
    second = page.locator("table.deployments tr[data-number='2']")
    expect(second.locator("[data-status]").first).to_have_attribute(
        "data-status", "READY", timeout=BUILD)
    assert wait_text(platform, host(site), "<p>bonjour</p>") == "<p>bonjour</p>"
    check_screen(page, "flow-project")

    # 6: roll back: the edge serves the first build again.
    page.get_by_role("button", name="Roll back to the previous production deployment").click()
    confirm(page, "Roll back")
    expect(first.locator(".tag", has_text="Production")).to_be_visible()
    assert wait_text(platform, host(site), "<p>hello</p>") == "<p>hello</p>"

    # 7: a token, shown once, revoked.
    page.goto(f"/#/teams/{team['id']}")
    maker = page.get_by_role("form", name="Create a token")
    maker.get_by_label("Name").fill("flow-ci")
    maker.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New token", exact=True).input_value()
    with platform.anonymous() as c:
        assert c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                     ).status_code == 200
    page.get_by_role("button", name="Revoke flow-ci").click()
    confirm(page, "Revoke")
    expect(page.locator("tr[data-token=flow-ci]")).to_have_count(0)
    with platform.anonymous() as c:
        assert c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                     ).status_code == 401

    # 8: a viewer sees no deploy button, and the API refuses them anyway.
    email = f"viewer-{new_id()[:8]}@flow.test"
    session = join(platform, platform.token(), team["id"], email, "viewer")
    viewer = context(browser, platform.api)
    try:
        seen = viewer.new_page()
        sign_in(seen, email, "a long password")
        seen.goto(f"/#/projects/{project_id}")
        expect(seen.locator("table.deployments tr[data-number='2']")).to_be_visible()
        expect(seen.get_by_role("button", name="Deploy", exact=True)).to_have_count(0)
    finally:
        viewer.close()
    refused = httpx.post(f"{platform.api}/v1/projects/{project_id}/deployments",
                         headers={"Authorization": f"Bearer {session}"})
    assert refused.status_code == 403, refused.text
