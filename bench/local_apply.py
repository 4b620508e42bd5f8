"""Terraform against moto at scale, timed: the first apply of `local` at N workers, and the
plan of prod's configuration (its AWS part) at N workers, from an empty emulator.

Why a script of its own: the same measurement must run on two checkouts (the layout before
a change and after it), each synthesizing with its own code and virtualenv, so it takes the
app's directory rather than importing the app. `make bench` calls it on this tree; the note
of a change runs it on the old checkout too:

    python bench/local_apply.py --app ../old-checkout --workers 100 --parallelism 10
    python bench/local_apply.py --app ../old-checkout --prod --workers 1000

The configuration is edited in a scratch copy of the app: moto runs on a free port (not the
4566 of config/local.toml, so a `make deploy-local` moto is untouched), and prod keeps only
its AWS part (Pub/Sub and RabbitMQ need providers this machine cannot install).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import moto_server, processes  # noqa: E402
from tools.apply_estimate import Estimate, estimate, stack_parallelism  # noqa: E402

LOCAL_ENDPOINT = "http://127.0.0.1:4566"
# What synth_scaled.py needs of an app: its code, its config and the script itself.
APP_PARTS = ("stacks", "constructs_lib", "config", "bench", "cdktf.json")


@dataclass(frozen=True)
class MotoRun:
    """One run: what the stack holds, how long its synth (a whole process), plan and apply
    took, and what the guard estimated for the apply."""

    workers: int
    parallelism: int
    resources: Counter[str]
    synth_seconds: float
    plan_seconds: float
    apply_seconds: float | None
    estimate: Estimate

    @property
    def total(self) -> int:
        return sum(self.resources.values())

    def sqs_resources(self) -> int:
        """The resources the AWS provider waits on: every `aws_sqs_*` one."""
        return sum(count for kind, count in self.resources.items() if kind.startswith("aws_sqs_"))


def _timed(command: list[str], *, env: dict[str, str]) -> float:
    """Wall seconds of a command that must succeed; its output is not shown."""
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _python(app: Path) -> str:
    """The app's own virtualenv, so that an old checkout synthesizes with its own code."""
    venv = app / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _aws_part_at(text: str, endpoint: str) -> str:
    """prod.toml with Pub/Sub and RabbitMQ off and SQS pointed at moto."""
    text, off = re.subn(
        r"(?m)^(\[(?:pubsub|rabbitmq)\]\n)enabled = true$", r"\1enabled = false", text
    )
    text, on = re.subn(r"(?m)^(\[sqs\]\nenabled = true\n)", rf'\1endpoint = "{endpoint}"\n', text)
    if (off, on) != (2, 1):
        raise SystemExit("config/prod.toml no longer starts its tables with `enabled = true`")
    return text


def run(app: Path, *, config: str, workers: int, parallelism: int | None, apply: bool) -> MotoRun:
    """Synthesize `config` at `workers` workers with `app`'s code, plan it against an empty
    moto (timed), and apply that plan (timed) if `apply`; `parallelism` None: the stack's."""
    env = {**os.environ, **moto_server.EMULATOR_CREDENTIALS, "TF_IN_AUTOMATION": "1"}
    port = processes.free_port()
    endpoint = moto_server.endpoint_at(port)
    with tempfile.TemporaryDirectory(prefix="ml-queues-moto-") as scratch:
        copy = Path(scratch) / "app"
        copy.mkdir()
        for part in APP_PARTS:
            source = app / part
            if source.is_dir():
                shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, copy / part)
        toml = copy / "config" / f"{config}.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(
            text.replace(LOCAL_ENDPOINT, endpoint)
            if config == "local"
            else _aws_part_at(text, endpoint)
        )
        outdir = Path(scratch) / "out"
        start = time.perf_counter()
        subprocess.run(
            [
                _python(app),
                "bench/synth_scaled.py",
                "--environments=1",
                f"--workers={workers}",
                f"--outdir={outdir}",
                f"--config={config}",
            ],
            cwd=copy,
            check=True,
            capture_output=True,
        )
        synth_seconds = time.perf_counter() - start
        stack = outdir / "stacks" / config
        body = json.loads((stack / "cdk.tf.json").read_text(encoding="utf-8"))
        resources = Counter({kind: len(items) for kind, items in body["resource"].items()})
        at_once = parallelism or stack_parallelism(body)
        terraform = ["terraform", f"-chdir={stack}"]
        quiet = ["-input=false", "-lock=false", f"-parallelism={at_once}"]
        subprocess.run(
            [*terraform, "init", "-input=false"], env=env, check=True, capture_output=True
        )
        with (Path(scratch) / "moto.log").open("w") as log:
            try:
                server = moto_server.start(log, port)
            except RuntimeError as error:
                raise SystemExit(str(error)) from error
            try:
                plan_file = Path(scratch) / "plan.tfplan"
                plan_seconds = _timed([*terraform, "plan", *quiet, f"-out={plan_file}"], env=env)
                shown = subprocess.run(
                    [*terraform, "show", "-json", str(plan_file)],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                expected = estimate(json.loads(shown.stdout), at_once)
                apply_seconds = None
                if apply:
                    apply_seconds = _timed([*terraform, "apply", *quiet, str(plan_file)], env=env)
            finally:
                moto_server.stop(server)
    return MotoRun(
        workers, at_once, resources, synth_seconds, plan_seconds, apply_seconds, expected
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout to synthesize")
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument(
        "--parallelism", type=int, help="Terraform's -parallelism (default: the stack's)"
    )
    parser.add_argument(
        "--prod", action="store_true", help="plan prod's AWS part instead of applying local"
    )
    args = parser.parse_args()
    result = run(
        args.app.resolve(),
        config="prod" if args.prod else "local",
        workers=args.workers,
        parallelism=args.parallelism,
        apply=not args.prod,
    )
    json.dump(
        {
            "config": "prod" if args.prod else "local",
            "workers": result.workers,
            "parallelism": result.parallelism,
            "resources": result.total,
            "sqs_resources": result.sqs_resources(),
            "synth_seconds": round(result.synth_seconds, 1),
            "plan_seconds": round(result.plan_seconds, 1),
            "apply_seconds": None
            if result.apply_seconds is None
            else round(result.apply_seconds, 1),
            "estimated_apply_seconds": round(result.estimate.seconds, 1),
            "by_type": dict(sorted(result.resources.items())),
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
