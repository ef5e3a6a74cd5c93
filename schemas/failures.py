"""The steps a deployment can fail at, and how to tell them from a failure's reason."""

from __future__ import annotations

from typing import Literal

FailureStep = Literal["launch", "clone", "detect", "install", "build", "output", "publish",
                      "timeout", "internal"]
# How the builder and the scheduler word each step's failure, in order of precedence.
FAILURE_PREFIXES: tuple[tuple[str, FailureStep], ...] = (
    ("could not start the build", "launch"), ("clone failed", "clone"),
    ("could not fetch the uploaded files", "clone"), ("install failed", "install"),
    ("install timed out", "install"), ("build failed", "build"),
    ("build timed out", "build"), ("no output directory", "output"),
    ("the output directory", "output"), ("could not upload the output", "publish"),
    ("timed out after", "timeout"), ("the build stopped reporting", "timeout"),
    ("internal error", "internal"))


def failure_step(reason: str) -> FailureStep | None:
    """The step a failure reason names, or None (a detection or configuration error
    names its file instead: "detect" is given by the builder)."""
    return next((step for prefix, step in FAILURE_PREFIXES if reason.startswith(prefix)), None)
