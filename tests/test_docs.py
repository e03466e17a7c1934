"""The README is a front door and the docs hold the rest: every relative link in README.md,
config/README.md and docs/*.md leads to a file that exists, and every #anchor into a Markdown
file to one of its headings (GitHub's slugs), so moving or renaming a section breaks a test,
not a reader's click."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "config" / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]


def _without_code(text: str) -> str:
    """Markdown with fenced blocks and code spans blanked: links in code are not links."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub(" ", text)


def links(text: str) -> list[str]:
    """Every link target of a Markdown text outside code (inline links, images and reference
    definitions)."""
    text = _without_code(text)
    return [*_INLINE_LINK.findall(text), *_REFERENCE_DEF.findall(text)]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its rendered text lower-cased, punctuation other than
    ``-`` and ``_`` dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>|[`*]", "", text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text's headings; a repeated heading gets ``-1``, ``-2``, …"""
    seen: dict[str, int] = {}
    out = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def dead_links(doc: Path) -> list[str]:
    """The relative links of ``doc`` that lead nowhere, each with why."""
    dead = []
    for target in links(doc.read_text()):
        if _SCHEME.match(target) or target.startswith("//"):
            continue  # a URL: not checked offline
        path, _, fragment = target.partition("#")
        dest = (doc.parent / unquote(path)).resolve() if path else doc
        if not dest.exists():
            dead.append(f"{target}: no file {dest}")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text()):
            dead.append(f"{target}: no heading #{fragment} in {dest.name}")
    return dead


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path):
    assert dead_links(doc) == []


def test_the_docs_have_an_index_that_lists_every_page():
    index = ROOT / "docs" / "README.md"
    listed = {(index.parent / t).resolve() for t in links(index.read_text())}
    pages = set((ROOT / "docs").glob("*.md")) - {index}
    assert pages and not pages - listed, sorted(p.name for p in pages - listed)
    assert index.resolve() in {
        (ROOT / t).resolve() for t in links((ROOT / "README.md").read_text())
    }


def test_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) <= README_MAX_LINES


def test_github_slugs():
    assert slug("Does the simulation agree with theory?") == "does-the-simulation-agree-with-theory"
    assert slug("Job granularity and start-up cost") == "job-granularity-and-start-up-cost"
    assert slug("Profiles: local and SLURM") == "profiles-local-and-slurm"
    assert slug("`replicates_per_job` and [memory](memory.md)") == "replicates_per_job-and-memory"
    assert slug("Gauss–Markov, **exactly**") == "gaussmarkov-exactly"
    assert anchors("# A\n\n```\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def test_dead_links_and_anchors_are_found(tmp_path: Path):
    """The check itself: a missing file, a missing heading and a link outside code are caught;
    URLs and links inside code are left alone."""
    (tmp_path / "other.md").write_text("# Present heading\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Title\n\n[ok](other.md#present-heading), [self](#title), [url](https://x.org/y)\n"
        "[gone](missing.md) and [bad anchor](other.md#absent) ![img](pic.png)\n"
        "`[code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n[ref]: also-missing.txt\n"
    )
    found = dead_links(doc)
    assert [d.split(":")[0] for d in found] == [
        "missing.md",
        "other.md#absent",
        "pic.png",
        "also-missing.txt",
    ]
