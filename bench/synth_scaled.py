"""Synthesizes N environments like one of config/ (dev unless told), each with W workers, to
show how synth cost grows with environments and with workers."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cdktf import App  # noqa: E402

from stacks.ml_queues_stack import MlQueuesStack  # noqa: E402
from stacks.settings import parse_environment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--environments", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--config", default="dev", help="the environment of config/ to copy")
    parser.add_argument("--sqs-endpoint", help="another SQS API than the config's (moto's port)")
    args = parser.parse_args()

    base = tomllib.loads((ROOT / "config" / f"{args.config}.toml").read_text(encoding="utf-8"))
    app = App(outdir=args.outdir)
    for number in range(1, args.environments + 1):
        # One environment keeps its name, and so what the loader requires of it (prod's).
        name = args.config if args.environments == 1 else f"env{number}"
        # Through the loader, which sets every backend's worker count from `workers`.
        data = {
            **base,
            "name_suffix": name,
            "workers": args.workers,
            "state": {"backend": "local", "path": f"terraform.{name}.tfstate"},
        }
        if args.sqs_endpoint:
            data["sqs"] = {**base["sqs"], "endpoint": args.sqs_endpoint}
        if base["rabbitmq"].get("enabled", True):
            data["rabbitmq"] = {**base["rabbitmq"], "vhost": f"ml-queues-{name}"}
        MlQueuesStack(app, parse_environment(name, data, source=f"bench {name}"))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
