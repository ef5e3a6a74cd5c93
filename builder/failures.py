"""Why a step failed, in words, from what it printed: a lockfile out of date with
package.json under a frozen-lockfile install, or a build that reached for the network
(which builds have only when ``build_network`` is on).

``Diagnosis`` watches a step's output lines as they stream and keeps the first sign of
each; only a bounded prefix of each line is matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SCANNED = 2000  # characters of a line looked at
# What each package manager prints when a frozen install finds the lockfile out of date.
STALE_LOCKFILE_RE = re.compile(
    r"can only install packages when your package\.json and (?:package-lock|npm-shrinkwrap)"
    r"\.json|ERR_PNPM_OUTDATED_LOCKFILE|is not up to date with .*package\.json"
    r"|Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`"
    r"|YN0028|lockfile would have been modified by this install"
    r"|lockfile had changes, but lockfile is frozen", re.I)
# What Node.js, curl and Python print when a name cannot be resolved or a host reached.
NETWORK_RE = re.compile(
    r"(getaddrinfo (?:EAI_AGAIN|ENOTFOUND) [\w.-]+|EAI_AGAIN|ENOTFOUND [\w.-]+"
    r"|ENETUNREACH|ECONNREFUSED \d+\.\d+\.\d+\.\d+:\d+|Could not resolve host: [\w.-]+"
    r"|Temporary failure in name resolution|Network is unreachable"
    r"|TypeError: fetch failed)")


@dataclass
class Diagnosis:
    """The signs of a known cause seen in one step's output."""

    stale_lockfile: bool = False
    network: str | None = None

    def observe(self, text: str) -> None:
        text = text[:MAX_SCANNED]
        if not self.stale_lockfile and STALE_LOCKFILE_RE.search(text):
            self.stale_lockfile = True
        if self.network is None and (found := NETWORK_RE.search(text)):
            self.network = found[1]

    def install_reason(self, lockfile: str | None, tool: str | None) -> str | None:
        if not self.stale_lockfile or lockfile is None:
            return None
        return (f"install failed: {lockfile} is out of date with package.json (installs use "
                f"the lockfile as it is): run `{tool or 'npm'} install` and commit the "
                f"updated {lockfile}")

    def build_reason(self, command: str, network: bool) -> str | None:
        if network or self.network is None:
            return None
        return (f"build failed: `{command}` tried to reach the network ({self.network}), "
                f"and builds run without it: set build_network to true in the project's "
                f"build settings to allow it")
