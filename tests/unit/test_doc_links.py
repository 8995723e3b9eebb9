"""Every relative link in the project's Markdown resolves: the file exists, and so
does the heading an anchor points to (GitHub's anchor rules)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", ROOT / "molecule" / "README.md", *ROOT.glob("docs/*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def anchors(path: Path) -> set[str]:
    """GitHub's anchor of each heading: lower case, punctuation dropped, spaces to '-'."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {
        re.sub(r"[^\w\- ]", "", m[1].strip().lower()).replace(" ", "-")
        for m in re.finditer(r"^#{1,6} (.*)$", text, re.M)
    }


def links(path: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


def test_there_are_docs() -> None:
    assert len(DOCS) >= 3
    assert all(d.is_file() for d in DOCS)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in links(doc):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        name, _, anchor = target.partition("#")
        dest = (doc.parent / name).resolve() if name else doc
        if not dest.exists() or ROOT not in [dest, *dest.parents]:
            broken.append(f"{target}: no such file in the repository")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


def test_anchor_rules() -> None:
    """The guard above computes the anchors GitHub writes."""
    assert "exit-codes" in anchors(ROOT / "docs" / "operators.md")
    assert "tests-make-test" in anchors(ROOT / "docs" / "tests.md")
