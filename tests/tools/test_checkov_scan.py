from __future__ import annotations

from pathlib import Path

import pytest

from tools import checkov_scan
from tools.checkov_scan import Finding, judge, skip_reasons

STACK = {
    "resource": {
        "google_pubsub_topic": {
            "topic_1": {"//": {"checkov_skip": {"CKV_GCP_83": "no key given"}}, "name": "t"},
            "topic_2": {"name": "u"},
        }
    }
}


def _report(*failed: tuple[str, str]) -> dict[str, object]:
    return {
        "summary": {"passed": 7, "failed": len(failed), "parsing_errors": 0},
        "results": {
            "failed_checks": [
                {
                    "check_id": check_id,
                    "resource": f"resource.{logical_id}",
                    "file_abs_path": "cdktf.out/stacks/dev/cdk.tf.json",
                }
                for check_id, logical_id in failed
            ]
        },
    }


def test_reasons_are_read_from_the_resources_comments() -> None:
    assert skip_reasons(STACK) == {("topic_1", "CKV_GCP_83"): "no key given"}


def test_a_failure_is_forgiven_only_on_the_resource_that_gives_a_reason() -> None:
    stacks = {"cdktf.out/stacks/dev/cdk.tf.json": STACK}
    report = _report(("CKV_GCP_83", "topic_1"), ("CKV_GCP_83", "topic_2"), ("CKV_X", "topic_1"))
    passed, skipped, failed = judge(report, stacks)
    assert passed == 7
    assert skipped == [Finding("dev", "resource.topic_1", "CKV_GCP_83", "no key given")]
    assert failed == [
        Finding("dev", "resource.topic_1", "CKV_X"),
        Finding("dev", "resource.topic_2", "CKV_GCP_83"),
    ]
    assert failed[0].line() == "dev: CKV_X on resource.topic_1"


def test_without_checkov_the_scan_fails_saying_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-checkov")
    assert checkov_scan.main(["--checkov", missing, str(tmp_path)]) == 2
    assert "`make test` installs it" in capsys.readouterr().err
