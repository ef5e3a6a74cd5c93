"""The embedded Kafka broker's tools: Kafka's jars, fetched once from Maven Central
through Maven and ``infra/kafka/pom.xml`` into ``~/.cache/buildspace/kafka-<version>/libs``
(``BUILDSPACE_TOOL_CACHE_DIR`` moves it), and a Java runtime to run them.

    python -c 'from infra.kafka_jars import main; main()'    # what bin/dev runs

Each fault (no Maven, no network on the first run, no Java 17+) raises ``BrokerError``
(a ``StartupError``) with one line that says what happened and what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.embedded import StartupError

KAFKA_VERSION = "4.1.1"  # keep in step with infra/kafka/pom.xml
POM = Path(__file__).parent / "kafka" / "pom.xml"


class BrokerError(StartupError):
    """The embedded broker could not start; the message says why and what to do."""


def cache_root() -> Path:
    configured = os.environ.get("BUILDSPACE_TOOL_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "buildspace"


def kafka_libs(cache: Path | None = None) -> Path:
    """The folder of Kafka's jars, fetched through Maven on the first call."""
    libs = (cache or cache_root()) / f"kafka-{KAFKA_VERSION}" / "libs"
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"Maven is needed once to fetch Kafka {KAFKA_VERSION}'s jars and is not installed: "
            f"install it (apt-get install maven; bin/dev does this), or place the jars in {libs}")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent) as tmp:
        done = subprocess.run(
            [mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={tmp}/libs"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        if done.returncode != 0:
            said = _last_error(done.stdout + done.stderr)
            raise BrokerError(
                f"could not fetch Kafka {KAFKA_VERSION}'s jars from Maven Central ({said}); "
                f"retry when it is reachable, or place the jars of org.apache.kafka:kafka_2.13:"
                f"{KAFKA_VERSION} and a log4j2 binding in {libs}")
        shutil.rmtree(libs, ignore_errors=True)
        os.replace(f"{tmp}/libs", libs)  # whole or not at all
    return libs


def _last_error(output: str) -> str:
    lines = [ln for ln in output.splitlines() if "ERROR" in ln] or output.splitlines() or [""]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[0]).replace("[ERROR] ", "").strip()[:300]


def java() -> str:
    """The ``java`` executable, checked to be 17 or newer."""
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            "Java 17+ is needed for the embedded Kafka broker and is not installed: install "
            "it (apt-get install default-jre-headless; bin/dev does this), or set "
            "BUILDSPACE_KAFKA_BOOTSTRAP to a Kafka you run")
    out = subprocess.run([found, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(?:1\.)?(\d+)', out)  # "1.8.0_392" is Java 8
    if match is None or int(match.group(1)) < 17:
        what = f"Java {match.group(1)}" if match else "of an unknown version"
        raise BrokerError(
            f"the embedded Kafka broker needs Java 17+, and {found} is {what}: put Java 17+ "
            f"first on PATH (apt-get install default-jre-headless), or set "
            f"BUILDSPACE_KAFKA_BOOTSTRAP to a Kafka you run")
    return found


def main(argv: list[str] | None = None) -> None:
    """Fetch the jars now, if they are not cached yet."""
    try:
        print(f"Kafka {KAFKA_VERSION}: {kafka_libs()}", file=sys.stderr)
    except BrokerError as exc:
        raise SystemExit(f"buildspace: {exc}") from None
