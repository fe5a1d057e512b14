"""Citations of docs/arvo-model.md name sections that exist; no citation of a missing document."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "docs" / "arvo-model.md"
CITING = ("arvo_concurrent", "tests", "benchmarks", "examples")
# "docs/arvo-model.md §4.3", "docs/arvo-model.md §1.2, §8.3"
CITATION = re.compile(r"docs/arvo-model\.md((?:,? §\d+(?:\.\d+)?)+)")
SECTION_REF = re.compile(r"§(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.M)


def sources() -> list[Path]:
    files = [path for folder in CITING for path in (ROOT / folder).rglob("*.py")]
    return [*files, ROOT / "README.md"]


def model_sections() -> set[str]:
    return set(HEADING.findall(MODEL.read_text(encoding="utf-8")))


def cited_sections() -> dict[str, list[str]]:
    """Section -> the files citing it."""
    cited: dict[str, list[str]] = {}
    for path in sources():
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            for section in SECTION_REF.findall(match.group(1)):
                cited.setdefault(section, []).append(str(path.relative_to(ROOT)))
    return cited


def test_the_model_numbers_its_sections_in_order() -> None:
    numbers = HEADING.findall(MODEL.read_text(encoding="utf-8"))
    keys = [tuple(int(part) for part in number.split(".")) for number in numbers]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    assert {key[0] for key in keys} == set(range(1, max(keys)[0] + 1))


def test_every_citation_names_a_section_that_exists() -> None:
    cited = cited_sections()
    assert len(cited) >= 20  # the code does cite the model
    known = model_sections()
    missing = {section: files for section, files in cited.items() if section not in known}
    assert missing == {}


def test_the_model_refers_only_to_its_own_sections() -> None:
    text = MODEL.read_text(encoding="utf-8")
    assert set(SECTION_REF.findall(text)) - model_sections() == set()


def test_nothing_cites_a_document_outside_the_repository() -> None:
    citing = [str(path.relative_to(ROOT)) for path in sources() if "ARVO_MODEL" in path.read_text()]
    assert citing == [str(Path(__file__).relative_to(ROOT))]
