"""Run checkov on every synthesized stack; pass only with 0 failed checks.

A failed check is forgiven only where the code that made the resource said why, with
`constructs_lib.scan_exceptions.skip_check`; checkov cannot read inline suppressions in
Terraform JSON, so this wrapper applies them, per resource, and prints every one of them.

    python -m tools.checkov_scan --checkov .cache/checkov/bin/checkov cdktf.out/stacks
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib.scan_exceptions import COMMENT_KEY

INSTALL_HINT = "`make test` installs it (into .cache/checkov), or `pip install checkov`"


@dataclass(frozen=True, order=True)
class Finding:
    stack: str
    resource: str
    check_id: str
    reason: str | None = None

    def line(self) -> str:
        text = f"{self.stack}: {self.check_id} on {self.resource}"
        return f"{text} ({self.reason})" if self.reason else text


def skip_reasons(stack: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(logical id, check id) -> reason, from the resources' `//` comments."""
    reasons: dict[tuple[str, str], str] = {}
    for section in ("resource", "data"):
        for bodies in stack.get(section, {}).values():
            for logical_id, body in bodies.items():
                for check_id, reason in body.get("//", {}).get(COMMENT_KEY, {}).items():
                    reasons[logical_id, check_id] = reason
    return reasons


def judge(
    report: Mapping[str, Any], stacks: Mapping[str, Mapping[str, Any]]
) -> tuple[int, list[Finding], list[Finding]]:
    """Passed count, findings forgiven with a reason, findings that fail the scan.

    `stacks` maps each scanned file, as checkov names it, to its parsed JSON.
    """
    reasons = {path: skip_reasons(stack) for path, stack in stacks.items()}
    skipped: list[Finding] = []
    failed: list[Finding] = []
    for result in report["results"]["failed_checks"]:
        path = result["file_abs_path"]
        logical_id = result["resource"].split(".", 1)[1]
        stack_name = Path(path).parent.name
        reason = reasons[path].get((logical_id, result["check_id"]))
        finding = Finding(stack_name, result["resource"], result["check_id"], reason)
        (skipped if reason else failed).append(finding)
    return report["summary"]["passed"], sorted(skipped), sorted(failed)


def _scannable_copies(files: list[str], scratch: Path) -> dict[str, dict[str, Any]]:
    """Each stack under `scratch/<env>/cdk.tf.json`, without `terraform.required_version`
    and `removed` blocks.

    checkov's Terraform JSON parser (3.3.30) reads every key of the `terraform` block as a
    block and gives up on the string `required_version`, and does not know Terraform 1.7's
    `removed` blocks; either way it would scan nothing. No check reads them (a `removed`
    block makes no resource). Everything else is the stack as synthesized.
    """
    stacks = {}
    for file in files:
        stack = json.loads(Path(file).read_text(encoding="utf-8"))
        stack.get("terraform", {}).pop("required_version", None)
        stack.pop("removed", None)
        copy = scratch / Path(file).parent.name / "cdk.tf.json"
        copy.parent.mkdir()
        copy.write_text(json.dumps(stack), encoding="utf-8")
        stacks[str(copy)] = stack
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks_dir", type=Path, help="the synthesized cdktf.out/stacks")
    parser.add_argument("--checkov", default="checkov", help="the checkov executable")
    args = parser.parse_args(argv)
    checkov = shutil.which(args.checkov)
    if checkov is None:
        print(f"error: checkov not found ({args.checkov}); {INSTALL_HINT}", file=sys.stderr)
        return 2
    files = sorted(str(path) for path in args.stacks_dir.glob("*/cdk.tf.json"))
    if not files:
        print(f"error: no stacks in {args.stacks_dir}; run `make synth`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ml-queues-checkov-") as scratch:
        stacks = _scannable_copies(files, Path(scratch))
        command = [checkov, "--framework", "terraform_json", "--skip-download", "--quiet"]
        command += ["--output", "json", *(arg for f in stacks for arg in ("-f", f))]
        # Exit 1 only means "some check failed"; the report says which, and we judge it.
        run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if run.returncode not in (0, 1) or not run.stdout.strip():
        print(f"error: checkov exited {run.returncode}: {run.stderr[-2000:]}", file=sys.stderr)
        return 2
    report: dict[str, Any] = json.loads(run.stdout)
    if report["summary"]["parsing_errors"]:
        print(f"error: checkov could not parse: {report['results']}", file=sys.stderr)
        return 2
    passed, skipped, failed = judge(report, stacks)
    version = report["summary"]["checkov_version"]
    print(f"checkov {version} on {len(files)} stacks")
    for title, findings in (("skipped, with the reason in the code", skipped), ("FAILED", failed)):
        if findings:
            print(f"{title}:")
            for finding in findings:
                print(f"  {finding.line()}")
    print(f"checkov: {passed} passed, {len(failed)} failed, {len(skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
