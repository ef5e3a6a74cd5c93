"""One platform (``buildspace up``) and one git server for the end-to-end tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import chromium, context, sign_in
from tests.support.dns import DnsServer
from tests.support.platform import Platform, running_platform

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """The DNS server the platform verifies custom domains against."""
    with DnsServer() as server:
        yield server


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, dns_server: DnsServer
             ) -> Iterator[Platform]:
    with running_platform(
        tmp_path_factory.mktemp("platform"), BUILDSPACE_DNS_RESOLVER=dns_server.address,
        BUILDSPACE_DNS_TIMEOUT_SECONDS="2", BUILDSPACE_VERIFIED_DOMAINS='["*.verified.test"]',
        # Outgoing webhooks reach receivers on 127.0.0.1 and retry fast; deleted
        # projects' artifacts are collected at once.
        BUILDSPACE_WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        BUILDSPACE_WEBHOOK_RETRY_BASE_SECONDS="0.2", BUILDSPACE_WEBHOOK_TIMEOUT_SECONDS="3",
        BUILDSPACE_DELETED_RETENTION_HOURS="0", BUILDSPACE_ARTIFACT_GC_INTERVAL_SECONDS="0.5",
    ) as running:
        yield running


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="session")
def vite_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(the Vite app's sources, its build output built here from the same sources).

    The fixture has no lockfile: the npm registry this machine reaches lacks the other
    platforms' optional packages, so a lockfile made here fails ``npm ci`` anywhere."""
    sources = read_tree(FIXTURES / "vite-app")
    work = tmp_path_factory.mktemp("vite-reference")
    shutil.copytree(FIXTURES / "vite-app", work, dirs_exist_ok=True)
    for argv in (["npm", "install", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        subprocess.run(argv, cwd=work, check=True, capture_output=True, timeout=300)
    return sources, read_tree(work / "dist")


@pytest.fixture(scope="module")
def browser(platform: Platform) -> Iterator[Browser]:
    """Chromium for one module's dashboard tests. Playwright's sync API holds an event
    loop in this thread while it runs, so it stops with the module: later async tests run
    on pytest-asyncio's loop. The platform starts first for the same reason."""
    with chromium() as running:
        yield running


@pytest.fixture
def page(platform: Platform, browser: Browser) -> Iterator[Page]:
    """A dashboard tab signed in as the instance owner (through the sign-in form)."""
    made = context(browser, platform.api)
    tab = made.new_page()
    sign_in(tab, platform.admin_email, platform.admin_password)
    try:
        yield tab
    finally:
        made.close()
