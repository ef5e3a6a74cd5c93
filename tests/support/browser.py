"""A real browser for the dashboard tests: Debian's Chromium (``/usr/bin/chromium``,
installed by ``bin/dev test``) driven by Playwright, which never downloads a browser of
its own here; axe-core from npm (``tests/support/axe/``, installed once into a cache) to
check each screen for accessibility violations; screenshots of each screen under
``test-output/screenshots/`` (or ``$BUILDSPACE_TEST_OUTPUT/screenshots``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("BUILDSPACE_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("BUILDSPACE_TEST_OUTPUT", ROOT / "test-output"))
AXE_SOURCE = Path(__file__).resolve().parent / "axe"
AXE_CACHE = Path.home() / ".cache" / "buildspace" / "test-axe"
SERIOUS = ("serious", "critical")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, headless (``--no-sandbox``: tests may run as root, where Chromium's
    own sandbox cannot start)."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh profile: no cookies. CSP is bypassed only so that the tests can inject
    axe-core; the dashboard itself runs no script but its own."""
    made = browser.new_context(base_url=base_url, bypass_csp=True,
                               viewport={"width": 1280, "height": 900})
    made.set_default_timeout(30_000)
    return made


def sign_in(page: Page, email: str, password: str) -> None:
    """Through the sign-in form, as a person would."""
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects").wait_for()


def screenshot(page: Page, name: str) -> Path:
    target = OUTPUT / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


def axe_script() -> Path:
    """axe-core's browser bundle (npm ci into the cache the first time)."""
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(AXE_SOURCE / name, AXE_CACHE / name)
    bundle = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not bundle.is_file():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=AXE_CACHE, check=True,
                       capture_output=True, timeout=300)
    return bundle


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2 A/AA violations on the page as it is."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script()))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
        "'wcag21a', 'wcag21aa', 'best-practice']})).violations")
    return [v for v in found if v.get("impact") in SERIOUS]


def assert_accessible(page: Page, screen: str) -> None:
    found = violations(page)
    assert not found, f"{screen}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        f"{[n['target'] for n in v['nodes']][:3]}" for v in found)


def check_screen(page: Page, name: str) -> None:
    """Each screen the tests visit: a screenshot, and no serious axe violation."""
    screenshot(page, name)
    assert_accessible(page, name)
