"""docs/rules.md is generated from the rule packs, so the published list cannot drift from the rules."""

from pathlib import Path

from sentinel.detect.packdoc import render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_docs_rules_md_is_generated_from_the_rule_packs() -> None:
    assert (REPO / "docs" / "rules.md").read_text() == render_markdown(), \
        "regenerate with: python -m sentinel.detect.packdoc > docs/rules.md"
