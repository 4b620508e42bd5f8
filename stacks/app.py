"""Builds the whole app: one stack per environment, from the config folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdktf import App

from constructs_lib.backend_spec import EMULATOR, TERRAFORM
from stacks.ml_queues_stack import MlQueuesStack
from stacks.settings import EMULATED, load_all


@dataclass(frozen=True)
class Apps:
    """The app Terraform deploys, and the emulated parts' app if an environment has one."""

    terraform: App
    emulated: App | None

    def synth(self) -> None:
        self.terraform.synth()
        if self.emulated is not None:
            self.emulated.synth()


def build_app(config_dir: Path, *, outdir: str) -> Apps:
    """Read and check every environment first, so a bad file stops the build before any
    construct exists or anything is written."""
    environments = load_all(config_dir)
    terraform = App(outdir=outdir)
    for settings in environments:
        MlQueuesStack(terraform, settings, way=TERRAFORM)
    emulated = [settings for settings in environments if settings.has_part(EMULATOR)]
    if not emulated:
        return Apps(terraform, None)
    emulators = App(outdir=str(Path(outdir) / EMULATED))
    for settings in emulated:
        MlQueuesStack(emulators, settings, way=EMULATOR)
    return Apps(terraform, emulators)
