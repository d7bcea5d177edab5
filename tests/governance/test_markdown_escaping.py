"""Finding 10: the Markdown twins of reports embedded header names unescaped.

A producer chooses its header names; one shaped as a Markdown link, image or HTML tag became a
live link, a tracking image or markup in any Markdown viewer of the review pack and the DPIA.
"""

from __future__ import annotations

import re

import pytest

from safeguard.governance.blocks import firewall_table
from safeguard.governance.document import Document, Fields, Section, render_html, render_markdown
from safeguard.governance.facts import FirewallDrop, RunFacts

HOSTILE = [
    "[click here](https://evil.example/phish)",
    "![x](https://tracker.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "| forged | row |",
    "`code` **bold** _em_",
]


def _doc(column: str) -> Document:
    facts = RunFacts(firewall=(FirewallDrop("police.csv", column, "dropped_undeclared", 10),))
    section = Section("firewall", "Firewall", (firewall_table(facts),))
    return Document("t", "Title", "Summary", Fields(()), (section,))


@pytest.mark.parametrize("column", HOSTILE)
def test_header_names_are_inert_in_the_markdown_twin(column: str) -> None:
    markdown = render_markdown(_doc(column))
    row = next(line for line in markdown.splitlines() if line.startswith("| police.csv"))
    assert row.count(" | ") == 4  # still four cells (and the closing bar): no forged columns
    for live in ("](", "`code`", "**bold**"):
        assert live not in row
    assert not re.search(r"(?<!\\)<img", row)  # only as the escaped, inert \<img
    assert "dropped_undeclared" in row  # our own text is left readable
    assert "<img" not in render_html(_doc(column))
