"""Find the browser and Marp's CLI for the rendering tests, or skip (fail in CI) with one line.

Chromium is Debian's package; marp-cli is installed by ``.ci/run`` with npm into
``.ci/node_modules`` (pinned to ``MARP_CLI_VERSION``). ``$MARP_CLI`` names another marp
binary. Without them a test skips with a one-line reason, except in CI (``CI=true``), where
``.ci/run`` has installed both, so a skip there would hide a broken install: it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.environment import missing
from tests.report.headless import find_chromium

REPO_ROOT = Path(__file__).resolve().parents[2]
MARP_CLI_VERSION = "4.5.1"  # keep in step with .ci/run
LOCAL_MARP = REPO_ROOT / ".ci" / "node_modules" / ".bin" / "marp"
MARP_INSTALL = f"npm install --prefix .ci @marp-team/marp-cli@{MARP_CLI_VERSION}"


def require_chromium() -> str:
    """Path of headless Chromium, or skip/fail."""
    path = find_chromium()
    if path is None:
        missing("chromium not found (apt-get install -y chromium)")
    return path  # type: ignore[return-value]


def find_marp() -> str | None:
    """Path of the marp CLI: ``$MARP_CLI``, then ``.ci/node_modules``, then ``marp`` on PATH."""
    explicit = os.environ.get("MARP_CLI")
    if explicit:
        return explicit if Path(explicit).exists() else None
    if LOCAL_MARP.exists():
        return str(LOCAL_MARP)
    return shutil.which("marp")


def require_marp() -> str:
    """Path of a working marp CLI (node present, version answered), or skip/fail."""
    marp = find_marp()
    if marp is None:
        missing(f"marp-cli not found (install: {MARP_INSTALL}, or set MARP_CLI)")
    try:
        version = subprocess.run([marp, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as error:  # no node on PATH for the script's shebang
        missing(f"marp-cli at {marp} does not run: {error}")
    if version.returncode != 0:
        missing(f"marp-cli at {marp} does not run: {version.stderr.strip()[:200]}")
    return marp  # type: ignore[return-value]


def marp_to_html(marp: str, decks: list[Path]) -> list[Path]:
    """Convert Marp markdown decks to HTML beside them with Marp's own CLI (one run; all slides
    of a deck in one page; no config file). Returns the HTML files, in order."""
    done = subprocess.run([marp, "--no-config-file", "--template", "bare", *map(str, decks)],
                          capture_output=True, text=True, timeout=120)
    pages = [deck.with_suffix(".html") for deck in decks]
    if done.returncode != 0 or not all(page.exists() for page in pages):
        raise AssertionError(f"marp failed ({done.returncode}): {done.stderr[-2000:]}")
    return pages
