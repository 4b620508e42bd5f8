"""The README and docs/ point at what exists: every `make` target they name is a rule of the
Makefile, and every relative link reaches a file, and a heading where it names one.

Why: issue 26 split the README into pages under docs/; a target renamed or a heading reworded
would otherwise leave a newcomer at a dead end that no other test sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.doc_refs import (
    anchors,
    broken_links,
    make_targets_named,
    makefile_targets,
    relative_links,
    slug,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


def _name(page: Path) -> str:
    return str(page.relative_to(PROJECT_ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_make_target_a_page_names_is_in_the_makefile(page: Path) -> None:
    named = make_targets_named(page.read_text(encoding="utf-8"))
    assert named - makefile_targets(MAKEFILE) == set()


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_of_a_page_resolves(page: Path) -> None:
    assert broken_links(page, PROJECT_ROOT) == []


def test_the_pages_are_the_readme_and_the_docs_it_links() -> None:
    """The parametrized tests above see the pages, and the pages name targets and links."""
    assert {"README.md", "docs/operations.md", "docs/configuration.md"} <= {
        _name(page) for page in PAGES
    }
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert {"synth", "test", "local-up", "worker-env", "local-down"} <= make_targets_named(readme)
    assert len(relative_links(readme)) >= 10


def test_the_makefile_rules_are_read_and_variables_are_not() -> None:
    targets = makefile_targets(MAKEFILE)
    assert {"synth", "test", "deploy-local", "help", "check-env"} <= targets
    assert not targets & {"SHELL", "ENV", "PHONY", ".PHONY", "TF_CLI_CONFIG", "export"}


def test_a_missing_target_is_named_and_prose_and_options_are_not() -> None:
    text = """
Run `make tset` after `make -j2 synth ENV=dev`; a `make` alone names nothing, and to make a
change is prose. `ALLOW_TASK_LOSS=x make deploy ENV=dev` and `make <target>` too.

```sh
make stop-local   # then make lnit
```
"""
    assert make_targets_named(text) == {"tset", "synth", "deploy", "stop-local", "lnit"}
    assert make_targets_named(text) - makefile_targets(MAKEFILE) == {"tset", "lnit"}


def test_github_anchors_of_headings() -> None:
    assert slug("Alarms: what fires, who is told, what can still go unseen") == (
        "alarms-what-fires-who-is-told-what-can-still-go-unseen"
    )
    assert slug("RabbitMQ's alerts in Prometheus") == "rabbitmqs-alerts-in-prometheus"
    assert slug("Pub/Sub on Google's emulator") == "pubsub-on-googles-emulator"
    assert slug("`make test` and [the docs](docs/x.md)") == "make-test-and-the-docs"
    assert slug("snake_case and ≥ 1.11") == "snake_case-and--111"
    text = "# Title\n\n## Usage\n\n```sh\n# not a heading\n```\n\n## Usage\n"
    assert anchors(text) == {"title", "usage", "usage-1"}


def test_a_broken_link_or_anchor_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Real heading\n")
    (tmp_path / "docs" / "folder").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md#real-heading) [dir](folder/) [self](#page) [web](https://x.test/y)\n"
        "[gone](missing.md) ![pic](../nowhere.svg)\n"
        "[bad anchor](other.md#no-such-heading) [bad self](#nope)\n"
        "[outside](../../etc/passwd) `[in code](missing.md)`\n"
        "```md\n[in a block](missing.md)\n```\n"
    )
    assert broken_links(page, tmp_path) == [
        "docs/page.md:3: missing.md: no such file",
        "docs/page.md:3: ../nowhere.svg: no such file",
        "docs/page.md:4: other.md#no-such-heading: no heading #no-such-heading in docs/other.md",
        "docs/page.md:4: #nope: no heading #nope in docs/page.md",
        "docs/page.md:5: ../../etc/passwd: no such file",
    ]
