"""The dashboard in a real browser (Chromium through Playwright): sign in, the project
list, and what the dashboard's files are allowed to do."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_deploy import create
from tests.support.browser import check_screen, context
from tests.support.platform import Platform


def test_sign_in_shows_the_projects_with_their_status(platform: Platform, page: Page,
                                                       git_server):
    project = create(platform, "dash-list", git_server.make_repo("dash-list", {
        "index.html": "<p>list</p>"}))
    row = page.locator("tr", has=page.get_by_role("link", name="dash-list", exact=True))
    expect(row).to_be_visible()
    expect(row.get_by_role("link", name=project["url"])).to_be_visible()
    check_screen(page, "projects")


def test_a_wrong_password_is_shown_beside_the_field(platform: Platform, browser: Browser):
    made = context(browser, platform.api)
    try:
        tab = made.new_page()
        tab.goto("/#/dashboard-needs-sign-in")
        expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
        tab.get_by_label("Email").fill(platform.admin_email)
        tab.get_by_label("Password").fill("not the password")
        tab.get_by_label("Password").press("Enter")
        expect(tab.locator("[data-field=password] .error")).to_contain_text("wrong")
        check_screen(tab, "sign-in")
    finally:
        made.close()


def test_the_page_allows_only_its_own_scripts(platform: Platform):
    page = httpx.get(f"{platform.api}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert httpx.get(f"{platform.api}/ui/app.js").headers["content-type"].startswith(
        "text/javascript")
    for outside in ("/ui/../http.py", "/ui/%2e%2e/http.py", "/ui/views", "/ui/nope.js"):
        assert httpx.get(f"{platform.api}{outside}").status_code == 404, outside
