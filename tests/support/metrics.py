"""Reading Prometheus metrics text in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(text: bytes | str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` of an exposition (labels not named match any), None
    when there is none."""
    if isinstance(text, bytes):
        text = text.decode()
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


def value(text: bytes | str, name: str, **labels: str) -> float:
    """The sample ``name{labels}``, 0 when there is none (a counter not yet counted)."""
    return sample(text, name, **labels) or 0.0
