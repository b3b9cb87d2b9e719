"""Generated docs: the README result tables and the architecture contract tables stay in sync."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from readme_results import rewrite


def test_rewrite_replaces_only_the_known_markers_content():
    text = (
        "intro\n<!-- results:training -->\nold | table\n<!-- /results:training -->\n"
        "middle\n<!-- results:other -->\nkept\n<!-- /results:other -->\nend\n"
    )
    new = rewrite(text, {"training": "| a |\n"})
    assert new == (
        "intro\n<!-- results:training -->\n| a |\n<!-- /results:training -->\n"
        "middle\n<!-- results:other -->\nkept\n<!-- /results:other -->\nend\n"
    )
    assert rewrite(new, {"training": "| a |\n"}) == new  # idempotent


def test_the_readme_has_a_marker_pair_for_every_table_the_script_writes():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name in ("ingestion", "training", "segment_mix", "optimise", "backtest", "calibration"):
        assert f"<!-- results:{name} -->\n" in readme and f"<!-- /results:{name} -->" in readme


def test_architecture_doc_shows_the_contracts_as_the_code_declares_them():
    from docs_contracts import DOC, contract_sections

    text = DOC.read_text(encoding="utf-8")
    assert rewrite(text, contract_sections()) == text, "run scripts/docs_contracts.py"
    assert "| `probability` | float64 | allowed | in_range(0.0, 1.0) |" in text
