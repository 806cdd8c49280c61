"""The README fits on a screen and leads to every page under docs/; no link in the docs is dead."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# [text](target) outside code; images too. Targets with a scheme (http:, mailto:) are not ours.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def markdown_pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced blocks and code spans, where a [x](y) is code, not a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip())
    text = text.lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)


def test_the_readme_fits_on_a_screen() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move detail into docs/"


def test_the_readme_gives_the_two_commands_as_they_are() -> None:
    text = README.read_text(encoding="utf-8")
    assert "./run.sh demo" in text
    assert "./run.sh test" in text
    # .ci/run runs the README's test command; the two must not drift apart.
    assert "./run.sh test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# Named doc, not page: conftest takes a fixture called page for Playwright's (slow tier).
@pytest.mark.parametrize("doc", markdown_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_what_exists(doc: Path) -> None:
    dead = []
    for target in links(doc):
        if not is_relative(target):
            continue
        path, anchor = resolve(doc, target)
        if not path.exists():
            dead.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            dead.append(f"{target}: no heading with anchor #{anchor} in {path.name}")
    assert dead == []


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached: set[Path] = set()
    todo = [README.resolve()]
    while todo:
        page = todo.pop()
        if page in reached or page.suffix != ".md" or not page.exists():
            continue
        reached.add(page)
        for target in links(page):
            if is_relative(target):
                path, _ = resolve(page, target)
                todo.append(path / "README.md" if path.is_dir() else path)
    unreached = sorted(
        str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md") if p.resolve() not in reached
    )
    assert unreached == []


def test_the_link_checker_sees_a_dead_link_and_a_dead_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# Top\n\n## Many workers (`bench/fleet.py`)\n\n[ok](#many-workers-benchfleetpy) "
        "[gone](b.md) [bad](#nowhere) `[code](not-a-link.md)`\n",
        encoding="utf-8",
    )
    page = tmp_path / "a.md"
    found = links(page)
    assert found == ["#many-workers-benchfleetpy", "b.md", "#nowhere"]
    assert "many-workers-benchfleetpy" in anchors(page)
    assert "nowhere" not in anchors(page)
    assert not resolve(page, "b.md")[0].exists()


def test_every_benchmark_in_bench_has_its_reproduce_command_in_docs() -> None:
    text = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    blocks = "\n".join(m.group(0) for m in FENCE.finditer(text))
    scripts = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))
    assert scripts, "no benchmark found in bench/"
    missing = [s for s in scripts if f"bench/{s}" not in blocks]
    assert missing == [], "benchmarks without a command to reproduce them in docs/benchmarks.md"


def test_the_testing_page_states_the_tiers_with_their_counts() -> None:
    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    assert "./run.sh test --fast" in text
    assert re.search(r"\d+ tests in \d+ s", text), "the fast tier's count and time"
    assert "RPA_TEST_POSTGRES_URL" in text
