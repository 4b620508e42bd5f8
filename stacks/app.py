"""Builds the whole app: one stack per environment, from the config folder."""

from __future__ import annotations

from pathlib import Path

from cdktf import App

from stacks.ml_queues_stack import MlQueuesStack
from stacks.settings import load_all


def build_app(config_dir: Path, *, outdir: str) -> App:
    """Read and check every environment first, so a bad file stops the build before any
    construct exists or anything is written."""
    environments = load_all(config_dir)
    app = App(outdir=outdir)
    for settings in environments:
        MlQueuesStack(app, settings)
    return app
