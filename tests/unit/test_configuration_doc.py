"""docs/configuration.md is what ``python -m infra.settings_doc`` prints from ``Settings``:
a setting added, renamed or re-described without regenerating the page fails here."""

from __future__ import annotations

from pathlib import Path

from infra.settings import Settings
from infra.settings_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_is_current():
    assert DOC.read_text() == render(), \
        "regenerate it: .venv/bin/python -m infra.settings_doc > docs/configuration.md"


def test_every_setting_is_described_and_listed():
    text = render()
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"BUILDSPACE_{name.upper()}" in text
