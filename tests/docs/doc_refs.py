"""What a Markdown page points at: the `make` targets its code names, and its relative links.

Why our own few lines rather than a Markdown parser: the pages use a small subset (ATX
headings, fenced code, inline code, inline links), no parser in the project's packages
computes GitHub's heading anchors, and adding one for this would tie the lock file to a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# An inline link or image: [text](target) or [text](target "title").
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")
# `make` as a command: at the start of the code, or after a shell separator or an assignment.
_MAKE = re.compile(r"(?:^|[;&|(]\s*|\s)make((?:\s+[^\s;&|)#]+)+)", re.MULTILINE)
_TARGET = re.compile(r"[a-z][a-z0-9-]*")
_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", re.MULTILINE)


@dataclass(frozen=True)
class Link:
    """A relative link as written, with the line it is on."""

    line: int
    target: str


def _split(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Prose lines and fenced-code lines, each with its line number (from 1)."""
    prose: list[tuple[int, str]] = []
    code: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        else:
            (prose if fence is None else code).append((number, line))
    return prose, code


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lowercased, punctuation other than
    hyphens and underscores dropped, each space a hyphen (github-slugger's rules)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = _CODE_SPAN.sub(lambda match: match.group(2), text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a page; a repeated heading gets `-1`, `-2`, as on GitHub."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, line in _split(text)[0]:
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def relative_links(text: str) -> list[Link]:
    """Links to files of the repository and anchors, outside code; URLs with a scheme are not."""
    links: list[Link] = []
    for number, line in _split(text)[0]:
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            if not _SCHEME.match(match.group(1)):
                links.append(Link(number, match.group(1)))
    return links


def broken_links(page: Path, root: Path) -> list[str]:
    """Each relative link of `page` that names no file or folder under `root`, or an anchor
    that no heading of the Markdown page it names has: one line each, with the line number."""
    problems: list[str] = []
    text = page.read_text(encoding="utf-8")
    for link in relative_links(text):
        path_part, _, anchor = link.target.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page.resolve()
        where = f"{page.relative_to(root)}:{link.line}: {link.target}"
        if not target.is_relative_to(root.resolve()) or not target.exists():
            problems.append(f"{where}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target.read_text()):
            problems.append(f"{where}: no heading #{anchor} in {target.relative_to(root)}")
    return problems


def make_targets_named(text: str) -> set[str]:
    """The targets of every `make` command in the page's code (fenced blocks and inline code
    spans); options and VAR=value are skipped. Prose is left out: "make" is also a verb."""
    prose, code = _split(text)
    snippets = [line for _, line in code]
    for _, line in prose:
        snippets += [match.group(2) for match in _CODE_SPAN.finditer(line)]
    targets: set[str] = set()
    for snippet in snippets:
        for match in _MAKE.finditer(snippet):
            words = [w for w in match.group(1).split() if not w.startswith("-") and "=" not in w]
            if words and _TARGET.fullmatch(words[0]):
                targets.add(words[0])
    return targets


def makefile_targets(makefile: str) -> set[str]:
    """The explicit targets of the Makefile's rules (not variables, not pattern rules)."""
    return {
        target
        for match in _RULE.finditer(makefile)
        for target in match.group(1).split()
        if not target.startswith(".")
    }
