"""The dashboard's team, account, sign-up and analytics pages in a real browser
(Chromium through Playwright): an invitation made on the team page and taken through
its link, members' roles changed and removed, the audit trail naming who did it; a
personal access token shown once, working, revoked; two-factor sign-in set up on the
account page and asked for at the next sign-in; a project's traffic drawn as charts."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_deploy import create, host
from tests.support.browser import assert_accessible, check_screen, context, sign_in
from tests.support.platform import Platform
from tests.support.waiting import eventually

PASSWORD = "a long password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_team(platform: Platform, name: str) -> dict[str, Any]:
    with platform.client() as owner:
        made = owner.post("/v1/teams", json={"name": name})
    assert made.status_code == 201, made.text
    team: dict[str, Any] = made.json()
    return team


def audit_actions(platform: Platform, team_id: str) -> set[str]:
    with platform.client() as owner:
        entries = owner.get(f"/v1/teams/{team_id}/audit").json()["entries"]
    return {e["action"] for e in entries}


def sign_up_through_the_link(browser: Browser, platform: Platform, link: str, email: str
                             ) -> None:
    made = context(browser, platform.api)
    try:
        tab = made.new_page()
        tab.goto(link)
        expect(tab.get_by_role("heading", name="Sign up")).to_be_visible()
        expect(tab.get_by_label("Email")).to_have_value(email)
        tab.get_by_label("Password").fill(PASSWORD)
        check_screen(tab, "signup")
        tab.get_by_role("button", name="Sign up").click()
        expect(tab.get_by_role("heading", name="Projects")).to_be_visible()
        expect(tab.get_by_role("navigation", name="Main")).to_contain_text(email)
    finally:
        made.close()


def test_an_invited_member_signs_up_and_the_owner_manages_them(platform: Platform,
                                                               browser: Browser, page: Page):
    team = new_team(platform, "dash-crew")
    page.goto(f"/#/teams/{team['id']}")
    expect(page.get_by_role("heading", name="dash-crew", level=1)).to_be_visible()
    expect(page.get_by_text("Your role: owner")).to_be_visible()
    switcher = page.get_by_role("navigation", name="Your teams")
    expect(switcher.get_by_role("link", name="dash-crew")).to_have_attribute(
        "aria-current", "page")

    invite = page.get_by_role("form", name="Invite someone")
    invite.get_by_label("Email").fill("Newcomer@Dash.test")
    invite.get_by_label("Role").select_option("viewer")
    invite.get_by_role("button", name="Invite").click()
    link = page.get_by_label("Invitation link")
    expect(link).to_have_value(re.compile(r"/#/signup\?invitation=bsi_[\w-]+&email="))
    check_screen(page, "team")
    sign_up_through_the_link(browser, platform, link.input_value(), "newcomer@dash.test")

    page.reload()
    role = page.get_by_role("combobox", name="Role of newcomer@dash.test")
    expect(role).to_have_value("viewer")
    role.select_option("member")
    expect(page.locator("#toast")).to_have_text("newcomer@dash.test is now member")
    with platform.client() as owner:
        members = owner.get(f"/v1/teams/{team['id']}/members").json()
    assert {m["email"]: m["role"] for m in members}["newcomer@dash.test"] == "member"

    # The audit trail, newest first, names who invited and who changed the role.
    eventually(lambda: {"InvitationCreated", "MemberRoleChanged"} <= audit_actions(
        platform, team["id"]), 60, what="the invitation and the role change audited")
    page.reload()
    trail = page.get_by_role("table", name="Audit trail, newest first")
    newest = trail.locator("tbody tr").first
    expect(newest).to_have_attribute("data-action", "MemberRoleChanged")
    for column, text in ((1, platform.admin_email), (2, "Member role changed"),
                         (3, "newcomer@dash.test"), (4, "127.0.0.1")):
        expect(newest.locator("td").nth(column)).to_have_text(text)
    invited = trail.locator("tr[data-action=InvitationCreated] td")
    expect(invited.nth(1)).to_have_text(platform.admin_email)
    expect(invited.nth(2)).to_have_text("Invitation created")

    page.get_by_role("button", name="Remove newcomer@dash.test").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.locator("tr[data-member='newcomer@dash.test']")).to_have_count(0)
    with platform.client() as owner:
        members = owner.get(f"/v1/teams/{team['id']}/members").json()
    assert [m["email"] for m in members] == [platform.admin_email]


def test_a_token_is_shown_once_works_and_is_revoked(platform: Platform, page: Page):
    team = new_team(platform, "dash-tokens")
    page.goto(f"/#/teams/{team['id']}")
    maker = page.get_by_role("form", name="Create a token")
    maker.get_by_label("Name").fill("dash-deployer")
    maker.get_by_label("deploy", exact=True).check()
    maker.get_by_label("Expires after").select_option("30")
    maker.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("New token", exact=True)
    expect(shown).to_have_value(re.compile(r"^bs_[\w-]{43}$"))
    expect(page.get_by_role("group", name="Token created")).to_contain_text(
        "it is not shown again")
    assert_accessible(page, "team with a new token")
    token = shown.input_value()
    row = page.locator("tr[data-token=dash-deployer]")
    expect(row).to_contain_text("read, deploy")
    expect(row).to_contain_text("team dash-tokens")

    with platform.anonymous() as c:
        me = c.get("/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["scopes"] == ["read", "deploy"]
    page.reload()
    expect(row.locator("td").nth(4)).not_to_have_text("never")  # last used, just now
    expect(page.get_by_label("New token", exact=True)).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("button", name="Revoke dash-deployer").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(row).to_have_count(0)
    with platform.anonymous() as c:
        assert c.get("/v1/auth/me", headers=bearer(token)).status_code == 401


def test_two_factor_set_up_on_the_account_page_is_asked_at_sign_in(platform: Platform,
                                                                   browser: Browser):
    email = "two-step@dash.test"
    team = new_team(platform, "dash-2fa")
    with platform.client() as owner:
        invite = owner.post(f"/v1/teams/{team['id']}/invitations",
                            json={"email": email, "role": "viewer"}).json()
    with platform.anonymous() as c:
        assert c.post("/v1/auth/signup", json={"email": email, "password": PASSWORD,
                                                "invitation": invite["invitation"]}
                      ).status_code == 201
    made = context(browser, platform.api)
    try:
        tab = made.new_page()
        sign_in(tab, email, PASSWORD)
        tab.get_by_role("link", name=email).click()
        expect(tab.get_by_role("heading", name="Account")).to_be_visible()
        expect(tab.get_by_text("Two-factor sign-in is off")).to_be_visible()
        tab.get_by_role("button", name="Set up two-factor sign-in").click()
        expect(tab.get_by_label("Setup link")).to_have_value(
            re.compile(r"^otpauth://totp/Buildspace:two-step%40dash\.test\?secret="))
        app = pyotp.TOTP(tab.locator(".secret code").inner_text().replace(" ", ""))
        tab.get_by_label("Code from the app").fill(app.now())
        tab.get_by_role("button", name="Turn on").click()
        expect(tab.get_by_role("group", name="Recovery codes").locator("code")).to_have_count(10)
        expect(tab.get_by_text("Two-factor sign-in is on")).to_be_visible()
        check_screen(tab, "account")

        tab.get_by_role("button", name="Sign out").click()
        expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
        tab.get_by_label("Email").fill(email)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        code = tab.get_by_label("Two-factor code")
        expect(code).to_be_visible()
        code.fill(app.at(time.time() + 30))  # the app's next code: the one shown was used
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_role("heading", name="Projects")).to_be_visible()
    finally:
        made.close()


def requests_counted(platform: Platform, project_id: str) -> int:
    with platform.client() as c:
        r = c.get(f"/v1/projects/{project_id}/analytics")
    assert r.status_code == 200, r.text
    body = r.json()
    paths = {p["path"]: p["requests"] for p in body["top_paths"]}
    done = paths.get("/a.txt") == 2 and paths.get("/missing") == 1 and "/" in paths
    return int(body["requests"]) if done else 0


def test_the_analytics_page_draws_the_traffic(platform: Platform, page: Page, git_server):
    url = git_server.make_repo("dash-counted", {"index.html": "<p>counted</p>",
                                                "a.txt": "aaaa"})
    project = create(platform, "dash-counted", url)
    with platform.client() as c:
        accepted = c.post(f"/v1/projects/{project['id']}/deployments").json()
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    site = host(project["url"])
    platform.wait_site(site)
    for path in ("/a.txt", "/a.txt", "/missing"):
        platform.get_site(site, path)
    before = eventually(lambda: requests_counted(platform, project["id"]), 60,
                        what="the requests counted in the analytics", interval=0.2)

    page.goto(f"/#/projects/{project['id']}/analytics")
    expect(page.get_by_role("heading", name="dash-counted", level=1)).to_be_visible()
    total = page.locator("[data-stat=requests]")
    expect(total).to_have_text(re.compile(r"^\d+$"))
    shown = int(total.inner_text())
    assert before <= shown <= requests_counted(platform, project["id"])  # more may come
    expect(page.get_by_role("img", name=f"Requests over time: {shown} requests",
                            exact=False)).to_be_visible()
    status = page.locator("[data-chart=status]")
    expect(status.locator("rect[data-status='200']")).to_be_visible()
    expect(status.locator("rect[data-status='404']")).to_be_visible()
    expect(status.get_by_role("img")).to_have_accessible_name(re.compile(r"404: 1\b"))
    paths = page.locator("[data-chart=paths]")
    bar = paths.locator("[data-path='/a.txt']")
    expect(bar.locator("rect")).to_be_visible()
    expect(bar.locator("text").first).to_have_text("/a.txt")
    expect(bar.locator("text").last).to_have_text("2")
    expect(paths.get_by_role("table", name="Top paths")).to_contain_text("/missing")
    check_screen(page, "analytics")

    page.get_by_label("Range").select_option("1h")
    expect(page).to_have_url(re.compile(r"/analytics\?range=1h$"))
    expect(status.locator("rect[data-status='200']")).to_be_visible()
