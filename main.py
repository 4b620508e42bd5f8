"""Entry point for `cdktf synth` and `cdktf deploy`: the app from config/, synthesized."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# Before the first import of cdktf, which starts jsii: on the project's Node, not on the
# machine's, whose end of life jsii would announce before any answer.
from stacks.node_runtime import use_project_node

use_project_node()

from constructs_lib.limits import LimitError  # noqa: E402
from stacks.settings import ConfigError, load_all  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parent / "config"


def main() -> int:
    # The cdktf CLI says where to write through CDKTF_OUTDIR; cdktf.out is its default too.
    outdir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    fresh = not outdir.exists()
    try:
        # Checked before cdktf loads (8 to 18 s), so that a typo is answered in about a second.
        load_all(CONFIG_DIR)
        from stacks.app import build_app  # noqa: PLC0415

        app = build_app(CONFIG_DIR, outdir=str(outdir))
    except (ConfigError, LimitError) as error:
        if fresh:
            # cdktf creates the folder as soon as the app exists; leave no half-made output.
            shutil.rmtree(outdir, ignore_errors=True)
        # One line for the user; a traceback would bury the file and key at fault.
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
