"""HTTP command endpoints for custom domains: add (claimed in the same transaction as
the append), verify by a DNS TXT record, remove. Responses come from the decided
events and the write-side state, never from a read model.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from commands.deps import WriteDep, run
from commands.projects.decide import DomainClaim
from commands.service import Outcome
from infra.settings import Settings
from schemas.api import DomainOut
from schemas.commands import AddDomain, RemoveDomain, VerifyDomain
from schemas.events import DomainAdded, DomainVerified
from schemas.requests import (
    DomainBody,
)

router = APIRouter(prefix="/v1", tags=["domains"])


def domain_response(outcome: Outcome, hostname: str, settings: Settings) -> DomainOut:
    claim: DomainClaim = outcome.state.domains[hostname]
    added = next((e.occurred_at for e in outcome.events if isinstance(e, DomainAdded)), None)
    verified = next(
        (e.occurred_at for e in outcome.events if isinstance(e, DomainVerified)), None)
    return DomainOut.of(outcome.state.project_id, hostname, claim.token, claim.verified,
                        settings.host_url(hostname), created_at=added, verified_at=verified)


@router.post("/projects/{project_id}/domains", status_code=status.HTTP_201_CREATED,
             response_model=DomainOut)
async def add_domain(project_id: str, body: DomainBody, platform: WriteDep) -> DomainOut:
    """Add a custom domain; create the TXT record in the answer, then verify it."""
    cmd = AddDomain(project_id=project_id, hostname=body.hostname)
    outcome = await run(platform, lambda conn, meta: platform.commands.add_domain(
        conn, cmd, meta))
    return domain_response(outcome, cmd.hostname, platform.settings)


@router.post("/projects/{project_id}/domains/{hostname}/verify", response_model=DomainOut,
             responses={409: {"description": "the TXT record is missing or does not match"}})
async def verify_domain(project_id: str, hostname: str, platform: WriteDep) -> DomainOut:
    """Look up the domain's TXT record; on a match the domain serves the project."""
    cmd = VerifyDomain(project_id=project_id, hostname=hostname)
    outcome = await run(platform, lambda conn, meta: platform.commands.verify_domain(
        conn, cmd, meta))
    return domain_response(outcome, cmd.hostname, platform.settings)


@router.delete("/projects/{project_id}/domains/{hostname}",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def remove_domain(project_id: str, hostname: str, platform: WriteDep) -> Response:
    """Remove a custom domain: it stops serving, and any project may add it again."""
    cmd = RemoveDomain(project_id=project_id, hostname=hostname)
    await run(platform, lambda conn, meta: platform.commands.remove_domain(conn, cmd, meta))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
