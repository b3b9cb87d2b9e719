"""Write docs/architecture.md's generated parts: the module map and the contract tables.

    .venv/bin/python scripts/docs_contracts.py [--check]

A test runs `--check`'s comparison, so a contract that changes without its documentation fails.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pandera.pandas as pa

from ml.contracts import CONTRACTS, OUTPUT_CONTRACTS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markers import rewrite

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = (
    "ml",
    "store",
    "features",
    "synth",
    "training",
    "serving",
    "planning",
    "promotion",
    "strata",
)


def _first_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n")[0].replace("|", "\\|")


def module_map() -> str:
    """Every module of every package with the first line of its docstring, package by package."""
    lines = []
    for package in PACKAGES:
        lines += [f"**{package}/**", "", "| module | job |", "|---|---|"]
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
            lines.append(f"| `{name.removesuffix('.__init__')}` | {_first_line(path)} |")
        lines.append("")
    return "\n".join(lines)


def _checks(col: pa.Column) -> str:
    return ", ".join(str(c.error or c.name) for c in col.checks)


def contract_table(schema: pa.DataFrameSchema) -> str:
    """One contract as markdown: its rules, then a row per column."""
    rules = ["strict: these columns in this order" if schema.strict else "more columns allowed"]
    if schema.unique:
        rules.append(f"unique: {', '.join(schema.unique)}")
    lines = [
        f"**{schema.name}** ({'; '.join(rules)})",
        "",
        "| column | dtype | missing | checks | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, col in schema.columns.items():
        missing = "allowed" if col.nullable else "never"
        unique = "; unique" if col.unique else ""
        meaning = (col.description or "").replace("|", "\\|")
        lines.append(
            f"| `{name}` | {col.metadata['dtype']} | {missing}{unique} | {_checks(col)} | "
            f"{meaning} |"
        )
    return "\n".join(lines) + "\n"


def contract_sections() -> dict[str, str]:
    """The generated sections: the module map, input contracts and output contracts."""
    return {
        "module_map": module_map(),
        "input_contracts": "\n".join(contract_table(s) for s in CONTRACTS.values()),
        "output_contracts": "\n".join(contract_table(s) for s in OUTPUT_CONTRACTS.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the doc differs")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = rewrite(text, contract_sections())
    if args.check:
        if new != text:
            print(f"{DOC}: contract tables differ; run scripts/docs_contracts.py", file=sys.stderr)
        return int(new != text)
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
