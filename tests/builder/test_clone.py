"""The hardened clone against a real smart-HTTP git server."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.clone import CloneError, check_ref, clone, git_env, safe_message
from tests.support.gitserver import GitServer


@pytest.mark.asyncio
async def test_a_branch_is_cloned_shallow_without_git_metadata(git_server: GitServer,
                                                               tmp_path: Path):
    url = git_server.make_repo("clone-branch", {"index.html": "<p>one</p>", "a/b.txt": "b"})
    sha = (await clone(url, "main", tmp_path / "src")).sha
    assert sha == git_server.head("clone-branch")
    assert (tmp_path / "src" / "index.html").read_text() == "<p>one</p>"
    assert (tmp_path / "src" / "a" / "b.txt").read_text() == "b"
    assert not (tmp_path / "src" / ".git").exists()


@pytest.mark.asyncio
async def test_a_commit_sha_is_fetched_and_checked_out(git_server: GitServer, tmp_path: Path):
    url = git_server.make_repo("clone-sha", {"index.html": "v1"})
    first = git_server.head("clone-sha")
    git_server.commit("clone-sha", {"index.html": "v2"})
    assert (await clone(url, first, tmp_path / "old")).sha == first
    assert (tmp_path / "old" / "index.html").read_text() == "v1"


@pytest.mark.asyncio
async def test_a_tag_and_another_branch_can_be_cloned(git_server: GitServer, tmp_path: Path):
    url = git_server.make_repo("clone-other", {"index.html": "main"})
    sha = git_server.commit("clone-other", {"index.html": "preview"}, branch="preview")
    assert (await clone(url, "preview", tmp_path / "p")).sha == sha
    assert (tmp_path / "p" / "index.html").read_text() == "preview"


@pytest.mark.parametrize("ref", ["-uhack", "--upload-pack=touch /tmp/x", "a..b", "a b", "x~1",
                                 "", "main\n"])
def test_a_ref_that_could_be_an_option_or_trick_is_refused(ref: str):
    with pytest.raises(CloneError, match="invalid git ref"):
        check_ref(ref)


@pytest.mark.asyncio
async def test_refused_refs_never_reach_git(git_server: GitServer, tmp_path: Path):
    url = git_server.make_repo("clone-refuse", {"index.html": "x"})
    with pytest.raises(CloneError, match="invalid git ref"):
        await clone(url, "--upload-pack=touch /tmp/pwned", tmp_path / "src")
    assert not (tmp_path / "src").exists()


@pytest.mark.parametrize("url", ["file:///etc", "ext::sh -c touch% /tmp/pwned",
                                 "https://user:token@example.com/a.git", "-ohttp://x/y",
                                 "ssh://git@example.com/a.git"])
@pytest.mark.asyncio
async def test_urls_other_than_plain_http_are_refused(url: str, tmp_path: Path):
    with pytest.raises(CloneError, match="invalid git URL"):
        await clone(url, "main", tmp_path / "src")


@pytest.mark.asyncio
async def test_an_unknown_branch_fails_with_gits_reason(git_server: GitServer, tmp_path: Path):
    url = git_server.make_repo("clone-missing", {"index.html": "x"})
    with pytest.raises(CloneError, match="nope") as failed:
        await clone(url, "nope", tmp_path / "src")
    assert str(failed.value).startswith("git clone failed: ")


@pytest.mark.asyncio
async def test_an_unreachable_repository_fails_cleanly(git_server: GitServer, tmp_path: Path):
    with pytest.raises(CloneError, match="git clone failed"):
        await clone(f"{git_server.base_url}/absent.git", "main", tmp_path / "src")


@pytest.mark.asyncio
async def test_a_protocol_that_is_not_allowed_is_refused_by_git(git_server: GitServer,
                                                                 tmp_path: Path):
    url = git_server.make_repo("clone-https-only", {"index.html": "x"})
    with pytest.raises(CloneError, match="git clone failed"):
        await clone(url, "main", tmp_path / "src", protocols=["https"])


def test_git_runs_with_nothing_from_the_builders_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("GIT_SSH_COMMAND", "touch /tmp/pwned")
    env = git_env(tmp_path, ["http", "https"])
    assert set(env) == {"PATH", "HOME", "GIT_ALLOW_PROTOCOL", "GIT_TERMINAL_PROMPT",
                        "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_ASKPASS", "LC_ALL"}
    assert env["GIT_ALLOW_PROTOCOL"] == "http:https"


def test_error_messages_never_show_url_credentials():
    err = b"Cloning into 'x'...\nfatal: unable to access 'https://bob:hunter2@host/r.git/': 403\n"
    assert safe_message(err) == "fatal: unable to access 'https://host/r.git/': 403"
