"""Deciding custom domains, pure: add one (verified at once when an operator's setting
vouches for it), verify it once its proof was checked, remove it.
"""

from __future__ import annotations

from commands.projects.decide import DomainClaim, ProjectState, evolve, require
from schemas.commands import (
    AddDomain,
    RemoveDomain,
)
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, NotFound
from schemas.events import (
    DomainAdded,
    DomainRemoved,
    DomainVerified,
    VerificationMethod,
)


def add_domain(state: ProjectState, cmd: AddDomain, token: str, verified: bool, meta: Meta
               ) -> list[Envelope]:
    """``token`` is the random verification token; ``verified`` when an operator's
    setting already vouches for the hostname."""
    require(state, cmd.project_id)
    if cmd.hostname in state.domains:
        raise Conflict(f"{cmd.hostname} is already a domain of this project", field="hostname")
    added = DomainAdded(
        stream_id=state.project_id, project_id=state.project_id, domain_id=new_id(),
        hostname=cmd.hostname, token=token, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)
    if not verified:
        return [added]
    return [added, *verify_domain(evolve(state, added), cmd.hostname, "setting", meta)]


def domain_of(state: ProjectState, project_id: str, hostname: str) -> DomainClaim:
    require(state, project_id)
    claim = state.domains.get(hostname)
    if claim is None:
        raise NotFound(f"{hostname} is not a domain of project {project_id}", field="hostname")
    return claim


def verify_domain(state: ProjectState, hostname: str, method: VerificationMethod, meta: Meta
                  ) -> list[Envelope]:
    """Mark the domain verified (the caller checked the proof); verified stays verified."""
    claim = domain_of(state, state.project_id, hostname)
    if claim.verified:
        return []
    return [DomainVerified(
        stream_id=state.project_id, project_id=state.project_id, domain_id=claim.domain_id,
        hostname=hostname, method=method, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def remove_domain(state: ProjectState, cmd: RemoveDomain, meta: Meta) -> list[Envelope]:
    claim = domain_of(state, cmd.project_id, cmd.hostname)
    return [DomainRemoved(
        stream_id=state.project_id, project_id=state.project_id, domain_id=claim.domain_id,
        hostname=cmd.hostname, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]
