"""Properties of the event and command catalog (issue 17): every type survives its own
serialization, and every old version on record is read as the current one.

Values are generated from the types' JSON Schema (``schemas/catalog``, the shapes other
systems see), by the small generator below, and kept where the model accepts them; a
field a validator narrows (a hostname, a git URL, a project name) draws from values the
validator accepts, so that few are thrown away.

    .venv/bin/pytest tests/unit/test_properties_events.py
    .venv/bin/pytest tests/unit/test_properties_events.py -m slow_properties  # longer run
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.analytics import EdgeRequestsServed
from schemas.catalog import CATALOG, models, version
from schemas.commands import Command, CommandMessage, command_adapter
from schemas.envelope import dumps
from schemas.events import ControlEvent, parse_event
from schemas.logs import LogMessage, parse_log_message
from schemas.upcasting import UPCASTERS

Json = Any
Strategy = st.SearchStrategy[Json]


def members(union: Any) -> set[type[BaseModel]]:
    return set(get_args(get_args(union)[0]))  # Annotated[A | B | ..., Field(...)]


EVENTS, LOGS, COMMANDS = members(ControlEvent), members(LogMessage), members(Command)
PARSERS: dict[type[BaseModel] | str, Callable[[bytes], BaseModel]] = {
    "event": parse_event,
    "log": parse_log_message,
    "command": command_adapter.validate_json,
    CommandMessage: CommandMessage.model_validate_json,
    EdgeRequestsServed: EdgeRequestsServed.model_validate_json,
}


def parser(model: type[BaseModel]) -> Callable[[bytes], BaseModel]:
    family = ("event" if model in EVENTS else "log" if model in LOGS
              else "command" if model in COMMANDS else model)
    return PARSERS[family]


# What a command's validators accept, by field name (JSON Schema cannot say it).
COMMAND_FIELDS: dict[str, Strategy] = {
    "name": st.from_regex(r"[A-Za-z][A-Za-z0-9 ._-]{0,20}", fullmatch=True),
    "git_url": st.sampled_from(["https://github.com/acme/site.git",
                                "http://git.example.com:8080/a/b"]),
    "hostname": st.sampled_from(["www.example.com", "shop.example.org", "b\u00fccher.example"]),
    "branch": st.sampled_from(["main", "feature/login", "v1.2"]),
    "ref": st.sampled_from(["main", "a" * 40, "release-2"]),
    "node_version": st.sampled_from(["22", "lts", "20.x", ">=18 <21"]),
    "vars": st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True),
                            st.text(max_size=10), max_size=3),
}
# Build variables never travel in an event (a validator older than the catalog says so).
EVENT_FIELDS: dict[str, Strategy] = {"env": st.just({})}

text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(UTC)).map(datetime.isoformat)


def from_schema(schema: Json, root: Json, fields: dict[str, Strategy]) -> Strategy:
    """Values that ``schema`` accepts: the subset of JSON Schema pydantic writes."""
    if "$ref" in schema:
        return from_schema(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, fields)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([from_schema(s, root, fields)
                          for s in schema.get("anyOf", schema.get("oneOf"))])
    kind = schema.get("type")
    if kind == "object":
        return objects(schema, root, fields)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), root, fields), max_size=3)
    if kind == "string":
        return strings(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**53)), schema.get("maximum", 2**53))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    scalars = {"boolean": st.booleans(), "null": st.none()}
    return scalars.get(kind, st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text)


def strings(schema: Json) -> Strategy:
    if schema.get("format") == "date-time":
        return timestamps
    low, high = schema.get("minLength", 0), schema.get("maxLength", 12)
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                   min_size=low, max_size=max(low, min(high, 12)))


def objects(schema: Json, root: Json, fields: dict[str, Strategy]) -> Strategy:
    properties = schema.get("properties")
    if properties is None:
        extra = schema.get("additionalProperties", {})
        values = from_schema(extra if isinstance(extra, dict) else {}, root, fields)
        return st.dictionaries(text, values, max_size=min(3, schema.get("maxProperties", 3)))
    required = set(schema.get("required", ()))
    drawn = {name: fields[name] if name in fields else from_schema(s, root, fields)
             for name, s in properties.items()}
    return st.fixed_dictionaries({k: v for k, v in drawn.items() if k in required},
                                 optional={k: v for k, v in drawn.items() if k not in required})


def catalog_schema(name: str, number: int) -> Json:
    return json.loads((CATALOG / f"{name}.v{number}.json").read_text())


@cache
def instances(model: type[BaseModel]) -> st.SearchStrategy[BaseModel]:
    """Instances of ``model``, drawn from its current schema; what it refuses is thrown
    away."""
    schema = catalog_schema(model.__name__, version(model))
    commands = model in COMMANDS or model is CommandMessage
    # An event names its own version: an older number would (rightly) be upcast.
    fields = COMMAND_FIELDS if commands else {
        **EVENT_FIELDS, "schema_version": st.just(version(model))}

    def validate(payload: Json) -> BaseModel:
        try:
            return model.model_validate(payload)
        except ValidationError:
            reject()
    return from_schema(schema, schema, fields).map(validate)


MODELS = sorted(models(), key=lambda m: m.__name__)
EXAMPLES = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def round_trip(model: type[BaseModel], data: st.DataObject) -> None:
    value = data.draw(instances(model))
    assert parser(model)(dumps(value)) == value


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@EXAMPLES
@given(data=st.data())
def test_every_event_and_command_parses_back_from_its_serialization(
        model: type[BaseModel], data: st.DataObject) -> None:
    """For every event and command type and any value of it: serializing it as it
    travels (``schemas.envelope.dumps``, orjson) and parsing it with its topic's parser
    (``parse_event``, the command parser, …) gives the same value back."""
    round_trip(model, data)


BY_NAME = {m.__name__: m for m in models()}
ON_RECORD = [(p.name.split(".")[0], int(p.name.split(".v")[1].split(".")[0]))
             for p in CATALOG.glob("*.v*.json")]
# Old versions of events (commands have no upcasters).
UPCAST = sorted((name, number) for name, number in ON_RECORD
                if number < version(BY_NAME[name]) and BY_NAME[name] in EVENTS | LOGS)


def contained(old: Json, new: Json, path: str = "") -> None:
    """Every field of ``old`` is in ``new`` with the same value."""
    if isinstance(old, dict):
        for key, value in old.items():
            assert key in new, f"{path}.{key} was dropped"
            contained(value, new[key], f"{path}.{key}")
    elif path == ".occurred_at":
        assert datetime.fromisoformat(old) == datetime.fromisoformat(new)
    else:
        assert old == new, f"{path}: {old!r} became {new!r}"


def read_old(name: str, number: int, data: st.DataObject) -> None:
    schema = catalog_schema(name, number)
    payload = data.draw(from_schema(schema, schema, EVENT_FIELDS))
    payload |= {"type": name, "schema_version": number}  # what a reader dispatches on
    event = parse_event(json.dumps(payload).encode())
    assert type(event).__name__ == name
    assert event.schema_version == version(type(event)) > number
    contained({k: v for k, v in payload.items() if k != "schema_version"},
              event.model_dump(mode="json"))


def test_every_old_event_version_on_record_has_an_upcaster() -> None:
    """The old event versions in the catalog are exactly the upcasters' versions, so the
    property below covers every upcaster and every old shape on record."""
    assert sorted(UPCASTERS) == UPCAST


@pytest.mark.parametrize(("name", "number"), UPCAST, ids=[f"{n}.v{v}" for n, v in UPCAST])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_old_version_on_record_is_read_as_a_valid_current_event(
        name: str, number: int, data: st.DataObject) -> None:
    """For every upcaster and any payload the old version's JSON Schema (on record in
    ``schemas/catalog``) accepts: ``parse_event`` gives a valid event of the same type
    at the current ``schema_version``, keeping every field the old payload had."""
    read_old(name, number, data)


@pytest.mark.slow_properties
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_type_round_trips_over_many_more_values(
        model: type[BaseModel], data: st.DataObject) -> None:
    """The round trip above, over 500 values of each type (``-m slow_properties``)."""
    round_trip(model, data)


@pytest.mark.slow_properties
@pytest.mark.parametrize(("name", "number"), UPCAST, ids=[f"{n}.v{v}" for n, v in UPCAST])
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_old_version_is_read_over_many_more_payloads(
        name: str, number: int, data: st.DataObject) -> None:
    """The upcasting property above, over 1000 payloads of each old version."""
    read_old(name, number, data)
