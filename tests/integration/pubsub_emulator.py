"""Google's Pub/Sub emulator for the tests: required, or a failure that says how to install it.

The emulator itself is run by tools/pubsub_emulator.py (`Emulator`), which the tools use too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import require
from tools.pubsub_emulator import INSTALL_HINT, PACKAGE, find_jar, find_java

# Debian 13 images of this machine kind lack the Google Cloud CLI's packages, so the jar cannot
# be installed there; on such a machine, and only there, the emulator tests are skipped.
DEBIAN_13_REASON = (
    f"Debian 13 without {PACKAGE}: the image of this machine kind lacks the Google Cloud CLI's"
    " packages, so Pub/Sub's emulator cannot be installed here"
)


def debian_major(version_file: Path = Path("/etc/debian_version")) -> str | None:
    try:
        return version_file.read_text().strip().split(".")[0]
    except OSError:
        return None


def require_emulator() -> tuple[str, Path]:
    """Java and the jar, or a failure that says how to install them (a named skip only on
    Debian 13 without the package, or with the opt-out variable)."""
    jar = find_jar()
    if jar is None and debian_major() == "13":
        pytest.skip(DEBIAN_13_REASON)
    java = find_java()
    require(java is not None, "java (for Google's Pub/Sub emulator)", INSTALL_HINT)
    require(jar is not None, f"Google's Pub/Sub emulator ({PACKAGE})", INSTALL_HINT)
    assert java is not None and jar is not None
    return java, jar
