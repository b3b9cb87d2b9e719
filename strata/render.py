"""Rich renderings of stage results for the terminal: build summary, registry, product, manifest."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from ml import columns as C
from ml.errors import StrataError

__all__ = [
    "print_attribute_registry",
    "print_build_summary",
    "print_manifest",
    "print_product_attributes",
]

console = Console(soft_wrap=False)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_build_summary(result: Any) -> None:
    """One screen: rows in/accepted/quarantined per source, quarantine by reason, snapshots."""
    t = Table(title=f"Workspace {result.workspace}: sources", title_justify="left")
    for col in ("source", "table", "rows in", "accepted", "quarantined"):
        t.add_column(col, justify="right" if col not in ("source", "table") else "left")
    for s in result.sources:
        t.add_row(
            s["name"],
            s["table"],
            _fmt(s["rows_in"]),
            _fmt(s["rows_accepted"]),
            _fmt(s["rows_quarantined"]),
        )
    tot = {
        k: sum(s[k] for s in result.sources)
        for k in ("rows_in", "rows_accepted", "rows_quarantined")
    }
    t.add_row("[b]total[/]", "", *(f"[b]{_fmt(v)}[/]" for v in tot.values()))
    console.print(t)
    balanced = tot["rows_in"] == tot["rows_accepted"] + tot["rows_quarantined"]
    mark = "[green]✓[/]" if balanced else "[red]✗[/]"
    console.print(
        f"{mark} rows in {tot['rows_in']:,} = accepted {tot['rows_accepted']:,} "
        f"+ quarantined {tot['rows_quarantined']:,}"
    )
    if result.quarantined_by_reason:
        q = Table(title="Quarantined rows by reason", title_justify="left")
        q.add_column("reason")
        q.add_column("rows", justify="right")
        for reason, n in result.quarantined_by_reason.items():
            q.add_row(reason, _fmt(n))
        console.print(q)
    imp = result.imputation or {}
    if imp:
        unresolved = imp.get("unresolved", {})
        console.print(
            f"fallbacks filled {imp.get('imputed_values', 0):,} values "
            f"(product → family → category → default, each flagged `<attribute>_imputed`); "
            f"{unresolved.get('keys', 0):,} products keep {unresolved.get('values', 0):,} values "
            "no fallback could fill (listed in unresolved.parquet beside the snapshot)"
        )
        top = sorted(unresolved.get("by_attribute", {}).items(), key=lambda kv: -kv[1])[:6]
        if top:
            console.print("  missing after fallbacks: " + ", ".join(f"{a} {n:,}" for a, n in top))
    for path in result.snapshots:
        day = path.name.removeprefix("as_of=")
        console.print(
            f"snapshot as of [b]{day}[/]: {result.products.get(day, 0):,} products × "
            f"{len(result.attributes)} attributes → {path}"
        )
    tasks = getattr(result, "tasks", None)
    if tasks is not None and len(tasks):
        console.print(
            f"engine spark: {len(tasks):,} sku partitions with products, "
            f"{tasks['keys'].sum():,} keys, slowest task {tasks['seconds'].max():.2f} s"
        )
    console.print(f"canonical tables and quarantine → {result.tables_dir}")


def print_attribute_registry() -> None:
    """Every attribute once: name, group, unit, meaning, how a planner reads a high value."""
    from ml.attributes import ATTRIBUTES

    t = Table(title="Attributes (strata features list)", title_justify="left", show_lines=False)
    for col in ("name", "group", "unit", "meaning", "high means"):
        t.add_column(col, overflow="fold")
    for a in ATTRIBUTES:
        t.add_row(a.name, a.group, a.unit, a.meaning, a.high)
    console.print(t)


def print_product_attributes(frame: pd.DataFrame, sku: str) -> None:
    """One product's attributes with units, meanings and imputation flags."""
    from ml.attributes import ATTRIBUTES

    rows = frame[frame[C.SKU_ID] == sku]
    if rows.empty:
        close = sorted(frame[C.SKU_ID].astype(str))
        hint = [s for s in close if s.startswith(sku[:3])][:5]
        extra = f"; similar ids: {', '.join(hint)}" if hint else ""
        raise StrataError(f"product {sku!r} is not in this snapshot{extra}")
    for _, row in rows.iterrows():
        where = f" at {row[C.LOCATION_ID]}" if C.LOCATION_ID in rows.columns else ""
        desc = row.get("description")
        console.print(
            f"[b]{sku}[/]{where} — {_fmt(desc)} · family {_fmt(row.get(C.FAMILY))} · "
            f"category {_fmt(row.get(C.CATEGORY))} · as of {pd.Timestamp(row[C.AS_OF]).date()}"
        )
        t = Table(show_header=True)
        for col in ("attribute", "value", "unit", "meaning", "imputed"):
            t.add_column(col, overflow="fold")
        for a in ATTRIBUTES:
            if a.name not in rows.columns:
                continue
            flag = row.get(f"{a.name}_imputed")
            t.add_row(
                a.name,
                _fmt(row[a.name]),
                a.unit,
                a.meaning,
                "[yellow]yes[/]" if flag is True else "",
            )
        console.print(t)


def print_manifest(manifest: dict[str, Any]) -> None:
    """A snapshot's manifest in a readable form."""
    console.print(
        f"[b]{manifest['workspace']}[/] snapshot as of [b]{manifest['as_of']}[/] · feature set "
        f"{manifest['feature_set']} · {manifest['products']:,} products · "
        f"{len(manifest['attributes'])} attributes · window {manifest['window']['periods']} "
        f"{manifest['window']['bucket']}s · code {manifest['code_version']} · created {manifest['created_at']}"
    )
    t = Table(title="Sources", title_justify="left")
    for col in ("source", "path", "sha256", "rows in", "accepted", "quarantined"):
        t.add_column(col, overflow="fold")
    for s in manifest["sources"]:
        t.add_row(
            s["name"],
            str(s.get("path")),
            str(s.get("sha256", ""))[:12],
            _fmt(s["rows_in"]),
            _fmt(s["rows_accepted"]),
            _fmt(s["rows_quarantined"]),
        )
    console.print(t)
