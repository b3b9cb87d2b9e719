"""Write the contract tables of docs/architecture.md from the pandera contracts in ml/contracts/.

    .venv/bin/python scripts/docs_contracts.py [--check]

A test runs `--check`'s comparison, so a contract that changes without its documentation fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandera.pandas as pa

from ml.contracts import CONTRACTS, OUTPUT_CONTRACTS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markers import rewrite

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


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
    """The generated sections: input contracts and output contracts."""
    return {
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
