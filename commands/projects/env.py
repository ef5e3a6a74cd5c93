"""A project's build variables on the write side: changing some of them (the others are
kept) and reading their values, both from the project's own state, so each sees every
change committed before it. Values exist in clear only in memory here: they are
encrypted into the one ``ProjectEnvSet`` a change appends, and never logged.
"""

from __future__ import annotations

import asyncpg
from cryptography.fernet import InvalidToken
from pydantic import ValidationError

from commands.projects import store
from commands.projects.decide import ProjectState, change_env, require, set_env
from commands.service import CommandService, Outcome
from schemas.commands import SetProjectEnv
from schemas.envelope import Meta
from schemas.errors import Invalid, Undecryptable
from schemas.requests import EnvPatchBody


async def current_env(conn: asyncpg.Connection, commands: CommandService,
                      state: ProjectState) -> dict[str, str]:
    """The variables now: the state's own ciphertext, else (a state saved before it kept
    one) what the build queue keeps, else none."""
    ciphertext = state.env_ciphertext or await store.projected_env(conn, state.project_id)
    if not ciphertext:
        return {}
    try:
        return commands.cipher.decrypt(ciphertext)
    except InvalidToken:
        raise Undecryptable("the build variables do not decrypt with this platform's "
                            "BUILDSPACE_ENV_KEY") from None


async def patch_env(conn: asyncpg.Connection, commands: CommandService, project_id: str,
                    body: EnvPatchBody, meta: Meta) -> Outcome:
    """Merge ``body`` into the variables under the project's row lock (concurrent
    changes apply one after the other, none lost), then append one ``ProjectEnvSet``."""
    state = await store.load_for_update(conn, project_id)
    require(state, project_id)
    merged = change_env(await current_env(conn, commands, state), body.set, body.unset)
    try:
        cmd = SetProjectEnv(project_id=project_id, vars=merged)
    except ValidationError as exc:  # the sum of both: more than 200, or over 64 KiB
        message = "; ".join(str(e["msg"]) for e in exc.errors())
        raise Invalid(f"with these changes, {message}", field="set") from None
    events = set_env(state, list(cmd.vars), commands.cipher.encrypt(cmd.vars), meta)
    return await commands.append_decided(conn, state, events)


async def env_values(conn: asyncpg.Connection, commands: CommandService, project_id: str
                     ) -> dict[str, str]:
    state = await store.load(conn, project_id)
    require(state, project_id)
    return dict(sorted((await current_env(conn, commands, state)).items()))
