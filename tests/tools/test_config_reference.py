from __future__ import annotations

from pathlib import Path

import pytest

from tools import config_reference
from tools.config_reference import END, START, field_reads, rewrite, table

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def test_the_readme_reference_is_what_the_loader_reads() -> None:
    """Run `make docs` after changing a setting."""
    text = README.read_text()
    assert rewrite(text) == text


def test_every_setting_the_loader_reads_is_listed_once() -> None:
    paths = [read.path for read, _ in field_reads()]
    assert len(paths) == len(set(paths))
    assert {"workers", "state.prefix", "sqs.region", "pubsub.kms_key_name"} <= set(paths)
    required = dict((read.path, when) for read, when in field_reads())
    assert (required["workers"], required["sqs.region"], required["state.key"]) == (
        "yes",
        "if enabled",
        "for its backend",
    )
    assert required["sqs.delay_seconds"] == "no"


def test_a_setting_without_a_meaning_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    meanings = dict(config_reference.MEANINGS)
    del meanings["sqs.fifo"]
    meanings["sqs.gone"] = "a setting the loader no longer reads"
    monkeypatch.setattr(config_reference, "MEANINGS", meanings)
    with pytest.raises(ValueError, match=r"no meaning for \['sqs.fifo'\]; unread \['sqs.gone'\]"):
        table(field_reads())


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="README has no"):
        rewrite("# no reference here\n")
    assert rewrite(f"a\n{START}\nold\n{END}\nb\n").startswith(f"a\n{START}\n| key | type |")
