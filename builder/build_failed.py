"""How a build fails: ``BuildFailed`` carries the reason the user sees and the step."""

from __future__ import annotations

from schemas.failures import FailureStep, failure_step


class BuildFailed(Exception):
    """The build cannot succeed; ``reason`` is what the user sees."""

    def __init__(self, reason: str, step: FailureStep | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step or failure_step(reason)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
