"""The catalog of what travels on our topics, as JSON Schema: one file per event or
command type and version, ``schemas/catalog/<Type>.v<N>.json``, generated from the
pydantic models, for systems that produce our commands or consume our events.

    .venv/bin/python -m schemas.catalog    # after a change: writes the current versions

A changed model must come with a new ``schema_version`` (and an upcaster from the old
one, ``schemas.upcasting``): ``tests/unit/test_catalog.py`` fails when a type's current
version no longer matches its file. Files of older versions stay, as the record of what
the log may still hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from schemas.analytics import EdgeRequestsServed
from schemas.commands import Command, CommandMessage
from schemas.events import ControlEvent
from schemas.logs import LogMessage

CATALOG = Path(__file__).resolve().parent / "catalog"


def _members(union: Any) -> list[type[BaseModel]]:
    inner = get_args(union)[0]  # Annotated[Union[...], Field(...)]
    return list(get_args(inner))


def models() -> list[type[BaseModel]]:
    """Every event type on buildspace.events, .logs and .requests, every command, and
    the intake's message."""
    return [*_members(ControlEvent), *_members(LogMessage), EdgeRequestsServed,
            *_members(Command), CommandMessage]


def version(model: type[BaseModel]) -> int:
    field = model.model_fields.get("schema_version")
    return int(field.default) if field is not None else 1


def catalog() -> dict[str, str]:
    """File name -> its JSON Schema text, for each type's current version."""
    return {f"{m.__name__}.v{version(m)}.json":
            json.dumps(m.model_json_schema(), indent=2, sort_keys=True) + "\n"
            for m in models()}


def write(folder: Path = CATALOG) -> list[str]:
    folder.mkdir(exist_ok=True)
    for name, text in catalog().items():
        (folder / name).write_text(text)
    return sorted(catalog())


if __name__ == "__main__":
    for written in write():
        print(written)
