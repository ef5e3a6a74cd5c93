"""The installed ``buildspace`` command against the running platform, as a subprocess:
sign in (credentials saved 0600 in the XDG config dir), who am I, list, inspect, logs,
tokens; the result on stdout, one line on stderr and a non-zero exit on failure."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_deploy import create, deploy
from tests.support.platform import Platform


def buildspace(platform: Platform, home: Path, *args: str, token: str | None = None
               ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BUILDSPACE_TOKEN"}
    env |= {"XDG_CONFIG_HOME": str(home), "BUILDSPACE_API_URL": platform.api}
    if token:
        env["BUILDSPACE_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "infra.compose.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_sign_in_list_inspect_logs_and_tokens(platform: Platform, git_server, tmp_path):
    home = tmp_path / "config"
    project = create(platform, "cli-site", git_server.make_repo("cli-site", {
        "index.html": "<p>cli</p>"}))
    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"

    nobody = buildspace(platform, home, "whoami")
    assert nobody.returncode == 1 and nobody.stdout == ""
    assert nobody.stderr.count("\n") == 1 and "buildspace login" in nobody.stderr
    wrong = buildspace(platform, home, "login", "--email", platform.admin_email,
                       "--password", "not it")
    assert wrong.returncode == 1 and "401" not in wrong.stdout

    signed = buildspace(platform, home, "login", "--email", platform.admin_email,
                        "--password", platform.admin_password)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.strip() == platform.admin_email
    saved = home / "buildspace" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert buildspace(platform, home, "whoami").stdout.strip() == platform.admin_email

    listed = json.loads(buildspace(platform, home, "ls", "--json").stdout)
    assert project["id"] in {p["id"] for p in listed}
    assert "cli-site" in buildspace(platform, home, "ls").stdout
    inspected = json.loads(buildspace(platform, home, "inspect", accepted["id"], "--json").stdout)
    assert inspected["status"] == "READY" and inspected["project_id"] == project["id"]
    with platform.client() as c:
        lines = [line["line"] for line in c.get(
            f"/v1/deployments/{accepted['id']}/logs", params={"limit": 5000}).json()["lines"]]
    printed = buildspace(platform, home, "logs", accepted["id"])
    assert printed.returncode == 0 and printed.stdout.splitlines() == lines
    followed = buildspace(platform, home, "logs", "-f", accepted["id"], "--json")
    assert [json.loads(x)["line"] for x in followed.stdout.splitlines()] == lines
    missing = buildspace(platform, home, "inspect", "nope")
    assert missing.returncode == 1 and "404" in missing.stderr

    name = f"cli-{secrets.token_hex(4)}"  # the instance owner's other tests make tokens too
    made = buildspace(platform, home, "tokens", "create", name, "--scope", "read")
    assert made.returncode == 0 and made.stdout.strip().startswith("bs_"), made.stderr
    ci = made.stdout.strip()
    assert buildspace(platform, home, "whoami", token=ci).returncode == 0
    mine = json.loads(buildspace(platform, home, "tokens", "ls", "--json").stdout)
    made_id = next(t["id"] for t in mine if t["name"] == name)
    assert buildspace(platform, home, "tokens", "revoke", made_id).returncode == 0
    revoked = buildspace(platform, home, "whoami", token=ci)
    assert revoked.returncode == 1 and "revoked" in revoked.stderr

    session = json.loads(saved.read_text())["token"]
    assert buildspace(platform, home, "logout").returncode == 0
    assert not saved.exists()
    with platform.anonymous() as c:  # the saved session ended with the logout
        assert c.get("/v1/auth/me", headers={"Authorization": f"Bearer {session}"}
                     ).status_code == 401


def test_redeploy_cancel_promote_and_rollback(platform: Platform, git_server, tmp_path):
    home = tmp_path / "config"
    project = create(platform, "cli-moves", git_server.make_repo("cli-moves", {
        "index.html": "<p>one</p>"}))
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    token = platform.token()

    again = buildspace(platform, home, "redeploy", first["id"], token=token)
    assert again.returncode == 0, again.stderr
    second = again.stdout.strip()
    assert platform.wait_status(second, {"READY", "FAILED"})["status"] == "READY"
    assert buildspace(platform, home, "rollback", "--project", project["id"],
                      token=token).stdout.strip() == first["id"]
    assert buildspace(platform, home, "promote", second, token=token
                      ).stdout.strip() == second
    finished = buildspace(platform, home, "cancel", second, token=token)
    assert finished.returncode == 1 and "409" in finished.stderr  # already READY
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}").json()[
            "production_deployment_id"] == second


def test_link_open_domains_and_teams(platform: Platform, tmp_path):
    home, here = tmp_path / "config", tmp_path / "site"
    here.mkdir()
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "cli-linked"}).json()
    browser = tmp_path / "browser.sh"  # what `open` hands the URL to
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
    browser.chmod(0o755)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "BUILDSPACE_TOKEN"}
        env |= {"XDG_CONFIG_HOME": str(home), "BUILDSPACE_API_URL": platform.api,
                "BUILDSPACE_TOKEN": platform.token(), "BROWSER": str(browser)}
        return subprocess.run([sys.executable, "-m", "infra.compose.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120, cwd=here)

    unlinked = cli("domains", "ls")
    assert unlinked.returncode == 1 and "buildspace link" in unlinked.stderr
    assert cli("link", "cli-linked").returncode == 0
    assert json.loads((here / ".buildspace" / "project.json").read_text())[
        "project_id"] == project["id"]
    opened = cli("open")
    assert opened.returncode == 0 and opened.stdout.strip() == project["url"]
    assert (tmp_path / "opened").read_text().strip() == project["url"]

    added = cli("domains", "add", "www.cli-linked.test")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("pending_verification: TXT _buildspace.")
    listed = json.loads(cli("domains", "ls", "--json").stdout)
    assert [d["hostname"] for d in listed] == ["www.cli-linked.test"]
    unverified = cli("domains", "verify", "www.cli-linked.test")
    assert unverified.returncode == 1 and unverified.stderr.count("\n") == 1
    assert cli("domains", "rm", "www.cli-linked.test").returncode == 0
    assert json.loads(cli("domains", "ls", "--json").stdout) == []

    with platform.client() as c:
        crew = c.post("/v1/teams", json={"name": "cli-crew"}).json()
    switched = cli("teams", "switch", "cli-crew")
    assert switched.returncode == 0, switched.stderr
    chosen = [line for line in cli("teams", "ls").stdout.splitlines() if "*" in line]
    assert len(chosen) == 1 and crew["id"] in chosen[0]
    assert cli("teams", "switch", "no-such-team").returncode == 1
    (here / "index.html").write_text("<p>crew</p>")
    deployed = cli("deploy", ".", "--name", "cli-crew-site")  # made in the chosen team
    assert deployed.returncode == 0, deployed.stderr
    with platform.client() as c:
        made = next(p for p in c.get("/v1/projects").json() if p["name"] == "cli-crew-site")
    assert made["team_id"] == crew["id"]


def test_env_add_ls_rm_and_pull(platform: Platform, tmp_path):
    home, here = tmp_path / "config", tmp_path / "site"
    here.mkdir()
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "cli-env"}).json()
        narrow = c.post("/v1/tokens", json={"name": f"cli-env-{secrets.token_hex(4)}",
                                            "scopes": ["read", "write"]}).json()["token"]

    def cli(*args: str, stdin: str = "", token: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "BUILDSPACE_TOKEN"}
        env |= {"XDG_CONFIG_HOME": str(home), "BUILDSPACE_API_URL": platform.api,
                "BUILDSPACE_TOKEN": token or platform.token()}
        return subprocess.run([sys.executable, "-m", "infra.compose.cli", *args], env=env,
                              input=stdin, capture_output=True, text=True, timeout=120,
                              cwd=here)

    added = cli("env", "add", "PLAIN", "https://api.example.com", "--project", project["id"])
    assert added.returncode == 0 and added.stdout == "Set PLAIN\n", added.stderr
    assert cli("link", "cli-env").returncode == 0
    secret = "s3cr3t value " + secrets.token_hex(4)
    piped = cli("env", "add", "API_TOKEN", stdin=secret + "\n")  # out of shell history
    assert piped.returncode == 0 and secret not in piped.stdout + piped.stderr
    assert cli("env", "add", "MULTI", "-", stdin='line one\nsays "hi"').returncode == 0
    assert cli("env", "add", "GONE", "soon").returncode == 0
    listed = json.loads(cli("env", "ls", "--json").stdout)
    assert listed["vars"] == dict.fromkeys(["API_TOKEN", "GONE", "MULTI", "PLAIN"], "••••••••")
    table = cli("env", "ls").stdout
    assert "API_TOKEN" in table and secret not in table and "api.example.com" not in table

    assert cli("env", "rm", "GONE").stdout == "Removed GONE\n"
    again = cli("env", "rm", "GONE")
    assert again.returncode == 1 and again.stdout == "" and again.stderr.count("\n") == 1
    assert "404" in again.stderr and "GONE" in again.stderr
    bad = cli("env", "add", "NOT-A-NAME", "x")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "422" in bad.stderr

    pulled = cli("env", "pull")
    assert pulled.returncode == 0, pulled.stderr
    dotenv = here / ".env"
    assert dotenv.read_text() == (f"API_TOKEN='{secret}'\n"
                                  'MULTI="line one\\nsays \\"hi\\""\n'
                                  "PLAIN=https://api.example.com\n")
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    refused = cli("env", "pull")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    dotenv.chmod(0o644)
    assert cli("env", "pull", "--yes").returncode == 0
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    assert cli("env", "pull", "other.env").returncode == 0
    assert (here / "other.env").read_text() == dotenv.read_text()
    printed = json.loads(cli("env", "pull", "--json").stdout)
    assert printed["vars"] == {"API_TOKEN": secret, "MULTI": 'line one\nsays "hi"',
                               "PLAIN": "https://api.example.com"}

    not_admin = cli("env", "pull", "mine.env", token=narrow)
    assert not_admin.returncode == 1 and not_admin.stderr.count("\n") == 1
    assert "403" in not_admin.stderr and not (here / "mine.env").exists()
