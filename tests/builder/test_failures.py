"""A failed step says why in words: a lockfile out of date with package.json under a
frozen install, and a build that reached for the network it does not have. The
patterns, then real builds in the sandbox."""

from __future__ import annotations

import json

import pytest

from builder.failures import Diagnosis
from tests.builder.support import make_spec
from tests.builder.test_pipeline import build
from tests.support.corpus import apps

# What each manager really prints (one line of each) when a frozen install finds the
# lockfile stale.
STALE = [
    "npm error `npm ci` can only install packages when your package.json and "
    "package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file",
    " ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with \"frozen-lockfile\" because "
    "pnpm-lock.yaml is not up to date with <ROOT>/package.json",
    "error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
    "➤ YN0028: │ The lockfile would have been modified by this install, which is explicitly "
    "forbidden.",
    "error: lockfile had changes, but lockfile is frozen",
]


@pytest.mark.parametrize("line", STALE)
def test_every_managers_stale_lockfile_message_is_recognised(line: str):
    diagnosis = Diagnosis()
    diagnosis.observe(line)
    assert diagnosis.install_reason("pnpm-lock.yaml", "pnpm") == (
        "install failed: pnpm-lock.yaml is out of date with package.json (installs use the "
        "lockfile as it is): run `pnpm install` and commit the updated pnpm-lock.yaml")


@pytest.mark.parametrize(("line", "shown"), [
    ("Error: getaddrinfo EAI_AGAIN fonts.googleapis.com", "getaddrinfo EAI_AGAIN "
                                                          "fonts.googleapis.com"),
    ("curl: (6) Could not resolve host: example.com", "Could not resolve host: example.com"),
    ("TypeError: fetch failed", "TypeError: fetch failed"),
])
def test_a_network_error_is_recognised_only_when_the_build_had_none(line: str, shown: str):
    diagnosis = Diagnosis()
    diagnosis.observe("x" * 5000)  # long lines are cut, not scanned whole
    diagnosis.observe(line)
    assert diagnosis.build_reason("npm run build", network=False) == (
        f"build failed: `npm run build` tried to reach the network ({shown}), and builds run "
        f"without it: set build_network to true in the project's build settings to allow it")
    assert diagnosis.build_reason("npm run build", network=True) is None
    assert Diagnosis().build_reason("npm run build", network=False) is None


LOCK = {"name": "site", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {"": {"name": "site", "version": "1.0.0"}}}
FETCH_JS = """
require('https').get('https://registry.npmjs.org/', (r) => {
  console.log('status', r.statusCode); process.exit(0); })
  .on('error', (e) => { console.error('Error: ' + e.message); process.exit(1); });
"""


@pytest.mark.asyncio
async def test_a_stale_package_lock_fails_with_the_fix(settings, git_server):
    package = {"name": "site", "version": "1.0.0", "scripts": {"build": "node b.js"},
               "dependencies": {"is-number": "7.0.0"}}  # not in the lockfile
    url = git_server.make_repo("stale-lock", {"package.json": json.dumps(package),
                                              "package-lock.json": json.dumps(LOCK)})
    record = await build(settings, make_spec(url))
    assert record.outcome["type"] == "DeploymentFailed", record.text
    assert record.outcome["step"] == "install"
    assert record.outcome["reason"] == (
        "install failed: package-lock.json is out of date with package.json (installs use "
        "the lockfile as it is): run `npm install` and commit the updated package-lock.json")


@pytest.mark.asyncio
async def test_a_build_that_needs_the_network_says_so_and_build_network_allows_it(settings,
                                                                           git_server):
    package = {"name": "site", "version": "1.0.0",
               "scripts": {"build": "node fetch.js && mkdir -p dist && echo ok > dist/index.html"}}
    url = git_server.make_repo("needs-network", {"package.json": json.dumps(package),
                                                 "fetch.js": FETCH_JS})
    record = await build(settings, make_spec(url))
    assert record.outcome["type"] == "DeploymentFailed", record.text
    reason = record.outcome["reason"]
    assert reason.startswith("build failed: `npm run build` tried to reach the network "
                             "(getaddrinfo "), reason
    assert reason.endswith("set build_network to true in the project's build settings to "
                           "allow it")
    allowed = await build(settings, make_spec(url, build_network=True))
    assert allowed.outcome["type"] == "DeploymentReady", allowed.text
    assert "status 200" in allowed.text


@pytest.mark.parametrize(("name", "lockfile", "tool"), [
    ("vite-react-pnpm9", "pnpm-lock.yaml", "pnpm"), ("vite-vue-yarn1", "yarn.lock", "yarn"),
    ("vite-solid-berry-pnp", "yarn.lock", "yarn"), ("vite-react-bun", "bun.lock", "bun")])
@pytest.mark.asyncio
async def test_every_manager_refuses_a_stale_lockfile_in_words(settings, git_server, name: str,
                                                               lockfile: str, tool: str):
    """A corpus app whose package.json gained a dependency its lockfile lacks."""
    app = next(a for a in apps() if a.name == name)
    files = app.files()
    package = json.loads(files["package.json"])
    package["dependencies"]["is-number"] = "7.0.0"
    files["package.json"] = json.dumps(package).encode()
    record = await build(settings, make_spec(git_server.make_repo(f"stale-{name}", files)))
    assert record.outcome["type"] == "DeploymentFailed", record.text
    assert record.outcome["reason"] == (
        f"install failed: {lockfile} is out of date with package.json (installs use the "
        f"lockfile as it is): run `{tool} install` and commit the updated {lockfile}"), \
        record.text[-3000:]
