"""A project's page and its settings in a real browser: deployments listed and made live
from the page, production moved by its promote and roll back buttons (the edge follows),
settings saved with the API's errors beside their fields, variables masked until an
admin reveals them, domains verified by DNS, deploy hooks and webhooks with their
delivery log, deletion confirmed by the project's name; and a viewer who sees it all
without a button that changes anything (and whom the API refuses anyway)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Locator, Page, expect

from schemas.envelope import new_id
from tests.e2e.test_authorization import join
from tests.e2e.test_builds import slow_site
from tests.e2e.test_deploy import create, deploy, host
from tests.e2e.test_domains import wait_text
from tests.support.browser import check_screen, context, sign_in
from tests.support.dns import DnsServer
from tests.support.gitserver import GitServer
from tests.support.platform import Platform
from tests.support.receiver import Receiver
from tests.support.waiting import eventually

BUILD = 240_000  # ms: a build on a shared, busy machine
NOWHERE = "http://127.0.0.1:1/acme/site.git"  # a project that never deploys


def site(text: str) -> dict[str, str]:
    return {"index.html": f"<p>{text}</p>"}


def ready_project(platform: Platform, git_server: GitServer, prefix: str,
                  **params: str) -> tuple[dict, dict]:
    """A project with one READY deployment of <p>one</p>: (project, deployment)."""
    name = f"{prefix}-{new_id()[:8]}"
    url = git_server.make_repo(name, site("one"))
    with platform.client() as c:
        r = c.post("/v1/projects", params=params, json={"name": name, "git_url": url})
        assert r.status_code == 201, r.text
    project = r.json()
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    return project, first


def production(platform: Platform, project_id: str) -> str | None:
    with platform.client() as c:
        found: str | None = c.get(f"/v1/projects/{project_id}").json()[
            "production_deployment_id"]
        return found


def confirm(page: Page, button: str) -> None:
    page.get_by_role("dialog").get_by_role("button", name=button, exact=True).click()


def status_of(row: Locator) -> Locator:
    return row.locator("[data-status]").first


def settings_page(page: Page, project: dict) -> None:
    page.goto(f"/#/projects/{project['id']}/settings")
    expect(page.get_by_role("heading", name="Build settings")).to_be_visible()


def test_the_page_deploys_and_moves_production_with_its_buttons(
        platform: Platform, page: Page, git_server: GitServer):
    project, first = ready_project(platform, git_server, "dash-page")
    name, edge_host = project["name"], host(project["url"])
    page.goto(f"/#/projects/{project['id']}")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("link", name=project["url"]).first).to_be_visible()
    one = page.locator(f"table.deployments tr[data-deployment='{first['id']}']")
    expect(status_of(one)).to_have_attribute("data-status", "READY")
    expect(one).to_contain_text("main")
    expect(one).to_contain_text(git_server.head(name)[:7])
    expect(one.locator(".tag", has_text="Production")).to_be_visible()

    sha = git_server.commit(name, site("two"))
    page.get_by_role("button", name="Deploy", exact=True).click()
    two = page.locator("table.deployments tr[data-number='2']")
    expect(status_of(two)).to_have_attribute("data-status", "READY", timeout=BUILD)
    expect(two).to_contain_text(sha[:7])
    expect(two.locator(".tag", has_text="Production")).to_be_visible()
    second = two.get_attribute("data-deployment")
    assert wait_text(platform, edge_host, "<p>two</p>") == "<p>two</p>"
    check_screen(page, "project")

    page.get_by_role("button", name="Roll back to the previous production deployment").click()
    confirm(page, "Roll back")
    expect(one.locator(".tag", has_text="Production")).to_be_visible()
    expect(page.get_by_text("Automatic promotion is paused")).to_be_visible()
    assert production(platform, project["id"]) == first["id"]
    assert wait_text(platform, edge_host, "<p>one</p>") == "<p>one</p>"

    two.get_by_role("button", name="Promote").click()
    confirm(page, "Promote")
    expect(two.locator(".tag", has_text="Production")).to_be_visible()
    expect(page.get_by_text("Automatic promotion is paused")).to_have_count(0)
    assert production(platform, project["id"]) == second
    assert wait_text(platform, edge_host, "<p>two</p>") == "<p>two</p>"

    # Another branch, through the form's ref field, is a preview: production stays.
    git_server.commit(name, site("feature"), branch="feature")
    page.get_by_label("Branch, tag or commit").fill("feature")
    page.get_by_role("button", name="Deploy", exact=True).click()
    preview = page.get_by_role("region", name="Previews").locator("tr", has_text="feature")
    expect(status_of(preview)).to_have_attribute("data-status", "READY", timeout=BUILD)
    expect(preview.get_by_role("link", name=re.compile(r"^http"))).to_be_visible()
    assert production(platform, project["id"]) == second
    check_screen(page, "project-previews")

    expect(two).to_contain_text(platform.admin_email)  # who: the API's requested_by


def test_a_running_build_is_canceled_from_the_page(
        platform: Platform, page: Page, git_server: GitServer):
    name = f"dash-cancel-{new_id()[:8]}"
    project = create(platform, name, git_server.make_repo(name, slow_site()))
    page.goto(f"/#/projects/{project['id']}")
    page.get_by_role("button", name="Deploy", exact=True).click()
    row = page.locator("table.deployments tr[data-number='1']")
    row.get_by_role("button", name="Cancel deployment #1").click()
    confirm(page, "Cancel deployment")
    expect(status_of(row)).to_have_attribute("data-status", "CANCELED")
    expect(row.get_by_role("button", name="Redeploy")).to_be_visible()
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    check_screen(page, "project-canceled")


def test_build_settings_are_saved_and_a_bad_one_is_shown_beside_its_field(
        platform: Platform, page: Page):
    project = create(platform, f"dash-build-{new_id()[:8]}", NOWHERE)
    settings_page(page, project)
    build = page.get_by_role("form", name="Build settings")
    build.get_by_label("Build command").fill("npm run build:site")
    build.get_by_label("Framework").select_option("vite")
    build.get_by_label("Node.js version").fill("22.x")
    build.get_by_role("button", name="Save build settings").click()
    expect(page.locator("#toast")).to_contain_text("Build settings saved")
    page.reload()
    expect(build.get_by_label("Build command")).to_have_value("npm run build:site")
    expect(build.get_by_label("Framework")).to_have_value("vite")
    expect(build.get_by_label("Node.js version")).to_have_value("22.x")

    def saved() -> dict:
        with platform.client() as c:
            found: dict = c.get(f"/v1/projects/{project['id']}").json()
            return found
    assert (saved()["build_command"], saved()["framework"], saved()["node_version"]) == (
        "npm run build:site", "vite", "22.x")

    node = build.get_by_label("Node.js version")
    node.fill("banana")
    build.get_by_role("button", name="Save build settings").click()
    expect(build.locator("[data-field=node_version] .error")).to_contain_text("semver range")
    expect(node).to_have_attribute("aria-invalid", "true")
    assert saved()["node_version"] == "22.x"
    node.fill("")  # blank sends null: the repository's files decide again
    build.get_by_role("button", name="Save build settings").click()
    eventually(lambda: saved()["node_version"] is None, what="node_version cleared")
    expect(node).not_to_have_attribute("aria-invalid", "true")

    build.get_by_label("Root directory").fill("../elsewhere")
    build.get_by_role("button", name="Save build settings").click()
    error = build.locator("[data-field=root_directory] .error")
    expect(error).to_contain_text("relative path")
    expect(page.locator("main")).not_to_contain_text("null")
    expect(build.get_by_label("Root directory")).to_have_attribute("aria-invalid", "true")
    check_screen(page, "project-settings")


def test_variables_are_masked_until_an_admin_reveals_them(platform: Platform, page: Page):
    project = create(platform, f"dash-env-{new_id()[:8]}", NOWHERE)
    settings_page(page, project)
    env = page.get_by_role("region", name="Environment variables")
    env.get_by_label("Name").fill("not a name")
    env.get_by_role("button", name="Save variable").click()
    expect(env.locator("[data-field=name] .error")).not_to_be_empty()

    env.get_by_label("Name").fill("API_TOKEN")
    env.get_by_label("Value").fill("s3cret-value-42")
    env.get_by_role("button", name="Save variable").click()
    row = env.locator("tr[data-env=API_TOKEN]")
    expect(row).to_contain_text("••••••••")
    expect(env.get_by_label("Value")).to_have_value("")
    assert "s3cret-value-42" not in page.content()

    env.get_by_role("button", name="Reveal values").click()
    expect(row).to_contain_text("s3cret-value-42")
    env.get_by_role("button", name="Hide values").click()
    expect(row).to_contain_text("••••••••")
    assert "s3cret-value-42" not in page.content()

    row.get_by_role("button", name="Remove API_TOKEN").click()
    page.keyboard.press("Escape")  # not confirmed: nothing removed
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row.get_by_role("button", name="Remove API_TOKEN")).to_be_focused()
    row.get_by_role("button", name="Remove API_TOKEN").press("Enter")
    confirm(page, "Remove")
    expect(row).to_have_count(0)
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}/env").json()["vars"] == {}


def test_a_domain_shows_its_txt_record_and_is_verified_by_it(
        platform: Platform, page: Page, dns_server: DnsServer):
    project = create(platform, f"dash-domain-{new_id()[:8]}", NOWHERE)
    hostname = f"www-{new_id()[:10]}.example.test"
    settings_page(page, project)
    domains = page.get_by_role("region", name="Domains")
    domains.get_by_label("Domain", exact=True).fill(hostname)
    domains.get_by_role("button", name="Add domain").click()
    row = domains.locator(f"tr[data-domain='{hostname}']")
    expect(row).to_contain_text("Pending verification")
    name = row.locator(".txt-name").inner_text()
    value = row.locator(".txt-value").inner_text()
    assert name == f"_buildspace.{hostname}" and value.startswith("buildspace-verify=")

    check_screen(page, "project-settings-domains")
    row.get_by_role("button", name="Verify").click()  # no record yet: the API says so
    expect(row.locator(".error")).not_to_be_empty()
    expect(row).to_contain_text("Pending verification")
    dns_server.txt[name] = [value]
    row.get_by_role("button", name="Verify").click()
    expect(row.locator(".badge")).to_have_text("Verified")

    row.get_by_role("button", name=f"Remove {hostname}").click()
    confirm(page, "Remove")
    expect(row).to_have_count(0)
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}/domains").json() == []


def test_a_deploy_hook_is_shown_once_and_a_webhook_logs_its_delivery(
        platform: Platform, page: Page, git_server: GitServer):
    name = f"dash-hooks-{new_id()[:8]}"
    project = create(platform, name, git_server.make_repo(name, site("hooked")))
    with Receiver() as receiver:
        settings_page(page, project)
        outgoing = page.get_by_role("region", name="Outgoing webhooks")
        outgoing.get_by_label("Payload URL").fill(receiver.url)
        outgoing.get_by_label("deployment.created").check()
        outgoing.get_by_role("button", name="Add webhook").click()
        expect(outgoing.get_by_label("Signing secret")).to_have_value(re.compile(r"\S{16,}"))
        card = outgoing.locator(".webhook", has_text=receiver.url)
        expect(card).to_contain_text("deployment.created")

        hooks = page.get_by_role("region", name="Deploy hooks")
        hooks.get_by_label("Name").fill("CMS")
        hooks.get_by_role("button", name="Make deploy hook").click()
        shown = hooks.get_by_label("Deploy hook URL")
        expect(shown).to_have_value(re.compile(r"/v1/hooks/\S+$"))
        hook_url = shown.input_value()
        expect(hooks.locator("tr", has_text="CMS")).to_be_visible()

        assert httpx.post(hook_url, timeout=30).status_code == 202  # what the CMS does
        card.get_by_text("Delivery log").click()
        delivery = card.locator("tbody tr").first
        expect(delivery).to_contain_text("deployment.created", timeout=60_000)
        expect(delivery).to_contain_text("succeeded", timeout=60_000)
        check_screen(page, "project-settings-hooks")

        page.reload()  # shown once: the hook is listed, its URL is nowhere
        expect(hooks.locator("tr", has_text="CMS")).to_be_visible()
        assert hook_url.rsplit("/", 1)[1] not in page.content()
        hooks.get_by_role("button", name="Delete deploy hook CMS").click()
        confirm(page, "Delete")
        expect(hooks.locator("tr", has_text="CMS")).to_have_count(0)
        card.get_by_role("button", name=re.compile("Delete the webhook")).click()
        confirm(page, "Delete")
        expect(card).to_have_count(0)
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}/webhooks").json() == []
        assert c.get(f"/v1/projects/{project['id']}/hooks").json()["deploy_hooks"] == []


def test_the_danger_zone_deletes_the_project_named(platform: Platform, page: Page):
    project = create(platform, f"dash-delete-{new_id()[:8]}", NOWHERE)
    settings_page(page, project)
    danger = page.get_by_role("region", name="Danger zone")
    typed = danger.get_by_label(f"Type {project['name']} to confirm")
    typed.fill("something else")
    danger.get_by_role("button", name="Delete project").click()
    expect(danger.locator("[data-field=confirm] .error")).to_contain_text("exactly")
    typed.fill(project["name"])
    danger.get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_role("link", name=project["name"], exact=True)).to_have_count(0)
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}").status_code == 404


WRITES = ("Save build settings", "Save variable", "Reveal values", "Add domain",
          "Make deploy hook", "Make webhook secret", "Add webhook", "Delete project")


def test_a_viewer_sees_the_project_without_controls_and_the_api_refuses_them(
        platform: Platform, browser: Browser, git_server: GitServer):
    with platform.client() as c:
        team = c.post("/v1/teams", json={"name": f"lookers-{new_id()[:6]}"}).json()["id"]
    project, first = ready_project(platform, git_server, "dash-viewer", team_id=team)
    email = f"viewer-{new_id()[:8]}@dash.test"
    join(platform, platform.token(), team, email, "viewer")
    made = context(browser, platform.api)
    try:
        tab = made.new_page()
        sign_in(tab, email, "a long password")
        tab.goto(f"/#/projects/{project['id']}")
        row = tab.locator(f"table.deployments tr[data-deployment='{first['id']}']")
        expect(status_of(row)).to_have_attribute("data-status", "READY")
        for button in ("Deploy", "Redeploy", "Promote", "Roll back", "Cancel"):
            expect(tab.get_by_role("button", name=button)).to_have_count(0)
        check_screen(tab, "project-viewer")

        tab.get_by_role("link", name="Settings").click()
        expect(tab.get_by_role("heading", name="Build settings")).to_be_visible()
        expect(tab.get_by_text("lets you read these settings")).to_be_visible()
        expect(tab.locator("main form")).to_have_count(0)
        expect(tab.locator("main")).not_to_contain_text("null")
        for button in WRITES:
            expect(tab.get_by_role("button", name=button)).to_have_count(0)
        check_screen(tab, "project-settings-viewer")

        refused = tab.evaluate(  # the page's own client, signed in by the viewer's cookie
            "async (id) => { const api = await import('/ui/api.js'); try { await api.post("
            "`/v1/projects/${id}/deployments`); return 202; } catch (e) { return e.status; } }",
            project["id"])
        assert refused == 403
    finally:
        made.close()
