"""The deployment page in a real browser: the build log arriving live while the status
changes, a 200,000-line log that stays a few rows in the page (scrolled, followed,
searched, downloaded whole), and a dropped stream resumed without a gap or a repeat.

The drop is made by routing the page's stream requests: Chromium's offline emulation
leaves an open stream untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, Route, expect

from tests.e2e.test_deploy import create, deploy
from tests.support.browser import check_screen
from tests.support.platform import Platform

BUILD_TIMEOUT_MS = 240_000


def site(script: str) -> dict[str, str]:
    """A project whose build runs ``script`` with node, which then writes dist/."""
    return {"package.json": json.dumps({"name": "log-site", "private": True,
                                        "scripts": {"build": "node print.js"}}),
            "print.js": script + "\nfunction write() {"
                                 "\n  require('fs').mkdirSync('dist', {recursive: true});"
                                 "\n  require('fs').writeFileSync('dist/index.html', 'ok');\n}"}


def slow_site(lines: int) -> dict[str, str]:
    """A build printing ``slow <n>`` every 100 ms, and every fifth ``note <n>`` on stderr."""
    return site(f"""
let i = 0;
const t = setInterval(() => {{
  i++; console.log('slow ' + i);
  if (i % 5 === 0) console.error('note ' + i);
  if (i === {lines}) {{ clearInterval(t); write(); }}
}}, 100);""")


def open_deployment(page: Page, deployment_id: str) -> Locator:
    """The deployment's page; returns its log region."""
    page.goto(f"/#/deployments/{deployment_id}")
    log = page.get_by_role("region", name="Build log")
    expect(log).to_be_visible()
    return log


def text_row(log: Locator, text: str) -> Locator:
    """The drawn row whose text is exactly ``text``."""
    return log.locator(".log-row").filter(
        has=log.page.locator(".log-text", has_text=re.compile(f"^{re.escape(text)}$")))


def status(page: Page) -> Locator:
    return page.locator(".live-status")


def api_lines(platform: Platform, deployment_id: str) -> list[dict]:
    lines: list[dict] = []
    after = 0
    with platform.client() as c:
        while True:
            got = c.get(f"/v1/deployments/{deployment_id}/logs",
                        params={"after_seq": after, "limit": 5000}).json()
            lines += got["lines"]
            after = got["next_after_seq"]
            if not got["has_more"]:
                return lines


def downloaded(page: Page, deployment_id: str) -> list[str]:
    """The lines of the file the Download button saves."""
    with page.expect_download() as info:
        page.get_by_role("button", name="Download log").click()
    assert info.value.suggested_filename == f"{deployment_id}.log"
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_the_log_arrives_while_building_and_the_status_changes_live(
        platform: Platform, page: Page, git_server):
    project = create(platform, "log-live", git_server.make_repo("log-live", slow_site(80)))
    accepted = deploy(platform, project["id"])
    log = open_deployment(page, accepted["id"])
    expect(page.get_by_role("heading", name="log-live #1")).to_be_visible()
    # The build prints for 8 s: an early line shown beside BUILDING came before READY.
    expect(text_row(log, "slow 3")).to_be_visible(timeout=BUILD_TIMEOUT_MS)
    expect(status(page)).to_have_text("BUILDING")
    expect(text_row(log, "note 5")).to_have_class(re.compile(r"\bstderr\b"))
    check_screen(page, "deployment-log-live")

    expect(status(page)).to_have_text("READY", timeout=BUILD_TIMEOUT_MS)
    expect(page.get_by_label("Follow")).to_be_checked()
    log.scroll_into_view_if_needed()
    expect(text_row(log, "slow 80")).to_be_in_viewport()  # followed to the end
    expect(page.get_by_text("Complete")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts.get_by_role("link", name="log-live", exact=True)).to_have_attribute(
        "href", f"#/projects/{project['id']}")
    expect(facts.get_by_role("link", name=accepted["url"])).to_be_visible()
    expect(facts).to_contain_text("production (live)")
    expect(page.get_by_role("button", name="Redeploy")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(0)
    check_screen(page, "deployment")


def test_a_200000_line_log_is_drawn_a_window_at_a_time(platform: Platform, page: Page,
                                                        git_server):
    script = ("let s = ''; for (let i = 1; i <= 200000; i++) s += 'line ' + i + '\\n';"
              "process.stdout.write(s); write();")
    project = create(platform, "log-huge", git_server.make_repo("log-huge", site(script)))
    accepted = deploy(platform, project["id"])
    done = platform.wait_status(accepted["id"], {"READY", "FAILED"}, timeout=300)
    assert done["status"] == "READY", done
    total = done["log_lines"]
    assert total > 200_000

    log = open_deployment(page, accepted["id"])
    expect(page.get_by_text(f"{total:,} lines", exact=True)).to_be_visible(timeout=180_000)
    expect(page.get_by_text("Complete")).to_be_visible()
    assert log.locator(".log-row").count() < 300
    log.scroll_into_view_if_needed()
    expect(log.locator(f'.log-row[data-seq="{total}"]')).to_be_in_viewport()

    log.focus()
    log.press("Home")  # the region scrolls by keyboard; leaving the end stops following
    expect(log.locator('.log-row[data-seq="1"]')).to_be_in_viewport()
    expect(page.get_by_label("Follow")).not_to_be_checked()
    page.get_by_label("Follow").check()
    expect(log.locator(f'.log-row[data-seq="{total}"]')).to_be_in_viewport()
    expect(text_row(log, "line 200000")).to_be_attached()

    search = page.get_by_label("Search the log")
    search.fill("LINE 123456")
    search.press("Enter")
    expect(page.locator("#log-matches")).to_have_text("1 of 1 match")
    found = log.locator(".current-match")
    expect(found).to_have_count(1)
    expect(found.locator(".log-text")).to_have_text("line 123456")
    expect(found.locator("mark")).to_have_text("line 123456")
    expect(found).to_be_in_viewport()
    expect(page.get_by_label("Follow")).not_to_be_checked()
    assert log.locator(".log-row").count() < 300

    lines = downloaded(page, accepted["id"])
    assert len(lines) == total
    assert [x for x in lines if x.startswith("line ")] == [
        f"line {i}" for i in range(1, 200_001)]
    # Last: the full-page screenshot moves the page under a later click.
    check_screen(page, "deployment-log-search")


def first_events(platform: Platform, deployment_id: str, lines: int) -> tuple[str, str]:
    """The live stream's text up to its ``lines``-th line, and that line's id (its seq)."""
    kept: list[str] = []
    seen, last = 0, ""
    with httpx.stream("GET", f"{platform.api}/v1/deployments/{deployment_id}/logs/stream",
                      headers=platform.auth(), timeout=120) as response:
        for raw in response.iter_lines():
            kept.append(raw)
            if raw.startswith("id: "):
                seen, last = seen + 1, raw.removeprefix("id: ")
            if raw == "" and seen == lines:
                return "\n".join(kept) + "\n", last
    raise AssertionError(f"the stream ended before {lines} lines")


def test_a_dropped_stream_resumes_without_a_gap_or_a_repeat(platform: Platform, page: Page,
                                                            git_server):
    project = create(platform, "log-drop", git_server.make_repo("log-drop", slow_site(60)))
    accepted = deploy(platform, project["id"])
    asked: list[str] = []
    held: list[str] = []

    def connection(route: Route) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:  # the real stream's first lines, then the connection drops
            body, last = first_events(platform, accepted["id"], 25)
            held.append(last)
            route.fulfill(status=200, body=body, headers={"Content-Type": "text/event-stream"})
        elif len(asked) == 2:  # the first retry fails: the page must try again
            route.fulfill(status=503, body="")
        else:  # the server is asked for every line again: the page must keep each once
            route.continue_(url=route.request.url.split("?")[0])

    page.route("**/logs/stream*", connection)
    log = open_deployment(page, accepted["id"])
    expect(status(page)).to_have_text("READY", timeout=BUILD_TIMEOUT_MS)
    expect(page.get_by_text("Complete")).to_be_visible()
    expect(text_row(log, "slow 60")).to_be_attached()

    assert len(asked) == 3, asked
    for retry in asked[1:]:  # each after the last line the page held
        assert retry.endswith(f"/logs/stream?after_seq={held[0]}"), asked
    stored = api_lines(platform, accepted["id"])
    assert [x["seq"] for x in stored] == list(range(1, len(stored) + 1))
    expect(page.get_by_text(f"{len(stored):,} lines", exact=True)).to_be_visible()
    assert downloaded(page, accepted["id"]) == [x["plain"] for x in stored]


def test_the_actions_roll_back_redeploy_and_cancel(platform: Platform, page: Page,
                                                   git_server):
    project = create(platform, "log-acts", git_server.make_repo("log-acts", slow_site(100)))
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    second = deploy(platform, project["id"])
    assert platform.wait_status(second["id"], {"READY", "FAILED"})["status"] == "READY"

    open_deployment(page, first["id"])
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("production")
    expect(facts).not_to_contain_text("(live)")
    expect(page.get_by_role("button", name="Promote to production")).to_be_visible()
    page.get_by_role("button", name="Roll back to this deployment").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("#1")
    check_screen(page, "deployment-confirm-rollback")
    dialog.get_by_role("button", name="Roll back").click()
    expect(facts).to_contain_text("production (live)")
    expect(page.get_by_role("button", name="Roll back to this deployment")).to_have_count(0)
    expect(page.get_by_role("button", name="Promote to production")).to_have_count(0)
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}").json()[
            "production_deployment_id"] == first["id"]

    page.get_by_role("button", name="Redeploy").click()
    expect(page.get_by_role("heading", name="log-acts #3")).to_be_visible()
    page.get_by_role("button", name="Cancel deployment").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel deployment").click()
    expect(status(page)).to_have_text("CANCELED", timeout=BUILD_TIMEOUT_MS)
    expect(page.get_by_text("Complete")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel deployment")).to_have_count(0)
    expect(page.get_by_role("button", name="Redeploy")).to_be_visible()
