"""Git webhooks and deploy hooks: their events, their API models, and the pure reading of
a push payload (which repository, which branch, which commit).

A project's webhook secret travels only as ciphertext; a deploy hook's token only as
its sha256. The push payload is untrusted until its signature was verified: these
functions only read it, they never decide anything.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.commands import check_ref
from schemas.envelope import Envelope

ZERO_SHA = re.compile(r"0{40}")
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?([^:/\s]+):(?!//)(.+)$")
DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


class WebhookSecretSet(Envelope):
    """The project's webhook secret was set or rotated; deliveries signed with the old
    one are refused from now on. The secret travels only as ciphertext."""

    type: Literal["WebhookSecretSet"] = "WebhookSecretSet"
    project_id: str
    ciphertext: str


class DeployHookCreated(Envelope):
    """A deploy hook URL ``/v1/hooks/<token>``; only the token's sha256 is kept."""

    type: Literal["DeployHookCreated"] = "DeployHookCreated"
    project_id: str
    hook_id: str
    name: str
    branch: str | None = Field(default=None, description="default: the project's branch")
    token_sha256: str


class DeployHookRevoked(Envelope):
    type: Literal["DeployHookRevoked"] = "DeployHookRevoked"
    project_id: str
    hook_id: str


class DeployHookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="what calls it, e.g. 'CMS'")
    branch: str | None = Field(default=None, description="default: the project's branch")

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


class WebhookSecretOut(BaseModel):
    project_id: str
    secret: str = Field(description="shown once: the GitHub webhook secret, or GitLab's "
                                    "secret token")
    github_url: str
    gitlab_url: str


class DeployHookOut(BaseModel):
    id: str
    project_id: str
    name: str
    branch: str | None
    created_at: datetime | None = None


class DeployHookCreatedOut(DeployHookOut):
    url: str = Field(description="shown once: POST to it to deploy")


class HooksOut(BaseModel):
    project_id: str
    github_url: str = Field(description="payload URL for a GitHub push webhook "
                                        "(content type application/json)")
    gitlab_url: str = Field(description="URL for a GitLab push webhook")
    secret_set: bool = Field(description="whether a webhook secret exists (it is never shown "
                                         "again)")
    secret_set_at: datetime | None = None
    deploy_hooks: list[DeployHookOut]


class Delivered(BaseModel):
    project_id: str
    deployment_id: str
    branch: str
    target: str
    url: str


class WebhookOut(BaseModel):
    ok: bool = True
    duplicate: bool = Field(default=False, description="this delivery was processed before")
    ignored: bool = False
    reason: str | None = None
    deployments: list[Delivered] = []


class Push(BaseModel):
    """What a push payload asks for: deploy ``sha`` of ``branch``, or nothing (``reason``)."""

    branch: str | None = None
    sha: str | None = None
    reason: str | None = None


def repo_key(url: str) -> str | None:
    """A comparable name of a repository: ``host[:port]/path`` in lowercase, without a
    scheme, credentials, default port or ``.git``. ``https://github.com/O/R.git``,
    ``git@github.com:o/r.git`` and ``https://github.com/o/r`` are the same repository."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        return None
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        try:
            port = parts.port
        except ValueError:
            return None
        host = (parts.hostname or "").lower()
        if port and port != DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{port}"
        path = parts.path
    else:
        scp = SCP_LIKE.match(url)
        if scp is None:
            return None
        host, path = scp.group(1).lower(), scp.group(2)
    path = path.strip("/").lower().removesuffix(".git").rstrip("/")
    return f"{host}/{path}" if host and path else None


def _strings(obj: Any, *keys: str) -> list[str]:
    if not isinstance(obj, dict):
        return []
    return [obj[k] for k in keys if isinstance(obj.get(k), str)]


def github_repo_keys(payload: Any) -> set[str]:
    repo = payload.get("repository") if isinstance(payload, dict) else None
    urls = _strings(repo, "clone_url", "html_url", "ssh_url", "git_url", "url")
    return {k for k in map(repo_key, urls) if k}


def gitlab_repo_keys(payload: Any) -> set[str]:
    if not isinstance(payload, dict):
        return set()
    urls = _strings(payload.get("project"), "git_http_url", "git_ssh_url", "web_url",
                    "http_url", "ssh_url")
    urls += _strings(payload.get("repository"), "git_http_url", "git_ssh_url", "homepage")
    return {k for k in map(repo_key, urls) if k}


def read_push(ref: Any, after: Any, deleted: bool = False) -> Push:
    """The branch and commit a push deploys, or why it deploys nothing."""
    if not isinstance(ref, str) or not isinstance(after, str):
        return Push(reason="the payload has no ref and after")
    if ref.startswith("refs/tags/"):
        return Push(reason="tag pushes are not deployed")
    if not ref.startswith("refs/heads/"):
        return Push(reason=f"{ref[:100]!r} is not a branch")
    if deleted or ZERO_SHA.fullmatch(after):
        return Push(reason="branch deleted")
    if not COMMIT_SHA.fullmatch(after):
        return Push(reason="after is not a commit sha")
    branch = ref.removeprefix("refs/heads/")
    try:
        check_ref(branch)
    except ValueError:
        return Push(reason="the branch name cannot be deployed")
    return Push(branch=branch, sha=after)
