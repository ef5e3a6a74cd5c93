"""A real OpenID Connect provider for the sign-in tests: node-oidc-provider
(``tests/support/oidc/``), installed once with npm into a cache beside the tool cache,
run with Node on a free port; and a browser's walk through its development login and
consent forms."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.waiting import eventually

HERE = Path(__file__).resolve().parent / "oidc"
CACHE = Path.home() / ".cache" / "buildspace" / "test-oidc-provider"
FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT = re.compile(r'<input[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?', re.S)


def installed() -> Path:
    """The provider's directory with its node_modules (npm ci the first time)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "provider.mjs"):
        shutil.copy2(HERE / name, CACHE / name)
    if not (CACHE / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CACHE, check=True,
                       capture_output=True, timeout=300)
    return CACHE


@contextmanager
def provider(port: int, client_id: str, secret: str, redirect_uri: str) -> Iterator[str]:
    """Serve the provider at ``http://127.0.0.1:<port>`` (its issuer) while inside."""
    issuer = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(["node", "provider.mjs", str(port), client_id, secret,
                             redirect_uri], cwd=installed(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{issuer}/.well-known/openid-configuration").is_success
            except httpx.TransportError:
                return False
        eventually(ready, 60, what="the OIDC provider answers")
        yield issuer
    finally:
        proc.terminate()
        proc.wait(10)


def sign_in(start: str, account: str, until: str) -> str:
    """Walk a browser from ``start`` through the provider's forms as ``account``; the
    URL it is finally sent to (the first that starts with ``until``)."""
    with httpx.Client(timeout=30) as browser:
        url, answer = start, browser.get(start)
        for _ in range(20):
            if answer.is_redirect:
                url = str(answer.url.join(answer.headers["location"]))
                if url.startswith(until):
                    return url
                answer = browser.get(url)
                continue
            form = FORM.search(answer.text)
            assert form, f"no form at {url}: {answer.status_code} {answer.text[:300]}"
            fields = {name: html.unescape(value or "") for name, value in INPUT.findall(
                form.group(2))}
            fields |= {"login": account, "password": "any"} if "login" in fields else {}
            answer = browser.post(str(answer.url.join(html.unescape(form.group(1)))),
                                  data=fields)
        raise AssertionError(f"the sign-in did not come back to {until}")
