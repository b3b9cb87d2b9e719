"""Every declared source as harmonised files: read, harmonised (or read back from the cache) and
with rows that repeat an earlier file of their source set aside.

A csv or parquet source reads one file, or every file its glob pattern matches (``path:
erp/*.csv``, in name order), each with the source's settings. Reference sources (sku_xref, uom,
fx) come first, since the others are mapped by them. Every problem that stops a source from
being read is collected across all sources into one ``StrataError`` (files are read and
harmonised one at a time; after the first problem the rest are only read, to find theirs). With a cache (:mod:`features.ingest_cache`), a file whose inputs are unchanged is
read back instead of read and harmonised again; its inputs include the reference files it may be
mapped by (every reference file for the other sources, those declared before it for a reference
source).

Across the files of one source, a raw row that repeats a row of an earlier file cell for cell
(overlapping extracts) is quarantined as ``exact_duplicate``, as a repeat within one file is;
rows are compared by a 64-bit hash of their cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.connectors import (
    Extract,
    is_pattern,
    read_source,
    shown_path,
    source_files,
    source_label,
)
from features.harmonise import Harmonised, References, harmonise
from features.ingest_cache import CACHE_DIR, FilePart, IngestCache, file_digest, part_key
from features.quarantine import ROW_FIELD, problems
from features.source_checks import source_problems
from ml import columns as C
from ml.config import Source, Workspace
from ml.errors import StrataError

__all__ = ["REFERENCE_TABLES", "SourceParts", "source_parts"]

REFERENCE_TABLES = ("sku_xref", "uom", "fx")


@dataclass(frozen=True)
class SourceParts:
    """Each source's harmonised files in order, and the cache keys the ingest used."""

    parts: dict[str, list[FilePart]]
    keys: set[str]


@dataclass
class _Planned:
    """One file of a source: where, its cache key (None: not cacheable), what was found."""

    source: Source
    position: int
    file: Path | None  # None: a SQL source
    key: str | None
    part: FilePart | None = None


def source_parts(ws: Workspace, code_version: str | None = None) -> SourceParts:
    """Every source's files harmonised; `code_version` enables the warehouse's ingest cache."""
    cache = IngestCache(ws.warehouse / CACHE_DIR) if code_version else None
    messages = source_problems(ws)
    planned = _plan(ws, code_version, messages)
    read_cache: dict = {}
    done: dict[str, list[FilePart]] = {}
    for name, plan in planned.items():
        refs = _references(ws, done)
        for item in plan:
            if cache is not None and item.key is not None:
                item.part = cache.load(item.key)
            if item.part is not None:
                continue
            # sources sharing one file read it once; a folder's files are not kept
            shared = None if _is_folder(item.source) else read_cache
            try:
                extract = read_source(ws, item.source, item.position, shared, item.file)
            except StrataError as exc:
                messages.append(str(exc))
                continue
            if not messages:  # one file at a time, so only one file's raw rows are held
                item.part = _harmonised(ws, item.source, extract, refs)
                if cache is not None and item.key is not None:
                    cache.save(item.key, item.part)
        done[name] = _without_repeats([item.part for item in plan if item.part is not None])
    if messages:
        head = f"{len(messages)} problem(s) with the sources of workspace '{ws.name}':"
        raise StrataError("\n".join([head, *(f"  - {m}" for m in messages)]))
    by_declaration = {s.name: done[s.name] for s in ws.sources}
    keys = {item.key for plan in planned.values() for item in plan if item.key is not None}
    return SourceParts(by_declaration, keys)


def _plan(
    ws: Workspace, code_version: str | None, messages: list[str]
) -> dict[str, list[_Planned]]:
    """Each source's files with their cache keys, reference sources first."""
    h = ws.harmonisation
    references = {n for n in (h.sku_xref, h.uom, h.fx) if n is not None}
    ordered = sorted(enumerate(ws.sources), key=lambda ps: ps[1].table not in REFERENCE_TABLES)
    reference_keys: list[str | None] = []
    planned: dict[str, list[_Planned]] = {}
    for position, source in ordered:
        if source.kind == "sql":
            planned[source.name] = [_Planned(source, position, None, None)]
            keys: list[str | None] = [None]
        else:
            files = source_files(ws, source)
            if not files and _is_folder(source):
                messages.append(
                    f"{source_label(source, position)}: no file matches {source.path} (looked in "
                    f"{ws.resolve(source.path).parent}); put the extracts there or fix 'path'"
                )
            keys = [_key(ws, source, f, reference_keys, code_version) for f in files]
            planned[source.name] = [
                _Planned(source, position, f, k) for f, k in zip(files, keys, strict=True)
            ]
        if source.name in references:
            reference_keys += keys
    return planned


def _key(
    ws: Workspace,
    source: Source,
    file: Path,
    reference_keys: list[str | None],
    code_version: str | None,
) -> str | None:
    if code_version is None or None in reference_keys or not file.is_file():
        return None
    known = [k for k in reference_keys if k is not None]
    shown = shown_path(source, file if _is_folder(source) else None)
    return part_key(ws, source, shown, file_digest(file), known, code_version)


def _references(ws: Workspace, done: dict[str, list[FilePart]]) -> References:
    """The reference tables harmonised so far (all of each source's files)."""
    h = ws.harmonisation

    def rows(name: str | None) -> pd.DataFrame | None:
        parts = done.get(name) if name is not None else None
        if not parts:  # not declared, or not harmonised (a problem was found)
            return None
        return pd.concat([p.harmonised.rows for p in parts], ignore_index=True)

    return References(sku_xref=rows(h.sku_xref), uom=rows(h.uom), fx=rows(h.fx))


def _is_folder(source: Source) -> bool:
    return source.path is not None and is_pattern(source.path)


def _harmonised(ws: Workspace, source: Source, extract: Extract, refs: References) -> FilePart:
    hashes = None
    if _is_folder(source):
        hashes = pd.util.hash_pandas_object(extract.frame, index=False).to_numpy()
    result = harmonise(
        extract.frame, source, ws.harmonisation, refs, extract.path, extract.source_rows
    )
    return FilePart(
        path=extract.path,
        sha256=extract.sha256,
        source_rows=extract.source_rows,
        ragged=extract.ragged,
        harmonised=result,
        row_hashes=hashes,
    )


def _without_repeats(parts: list[FilePart]) -> list[FilePart]:
    """Each file's raw rows that repeat a row of an earlier file of the source moved to its
    problems as ``exact_duplicate``, pointing at the file and row they repeat."""
    if len(parts) < 2 or any(p.row_hashes is None for p in parts):
        return parts
    hashes = np.concatenate([p.row_hashes for p in parts])  # type: ignore[misc]
    file_of = np.repeat(np.arange(len(parts)), [len(p.row_hashes) for p in parts])  # type: ignore[arg-type]
    codes, _ = pd.factorize(hashes)
    # codes are numbered in order of first appearance: the k-th first appearance is code k
    first = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())[codes]
    earlier_file = file_of[first] < file_of
    starts = np.concatenate([[0], np.cumsum([len(p.row_hashes) for p in parts])])  # type: ignore[arg-type]
    out = []
    for k, part in enumerate(parts):
        repeat = np.flatnonzero(earlier_file[starts[k] : starts[k + 1]])
        out.append(_moved_to_problems(part, repeat, first[starts[k] + repeat], parts, starts))
    return out


def _moved_to_problems(
    part: FilePart,
    repeat: np.ndarray,
    original: np.ndarray,
    parts: list[FilePart],
    starts: np.ndarray,
) -> FilePart:
    found = part.harmonised.problems
    within = found.loc[found[C.REASON] == "exact_duplicate", "row"].to_numpy()
    keep = ~np.isin(repeat, within)
    repeat, original = repeat[keep], original[keep]
    if not len(repeat):
        return part
    file_index = np.searchsorted(starts, original, side="right") - 1
    numbering = np.concatenate([p.source_rows.to_numpy(dtype=np.int64) for p in parts])
    paths = pd.Series([p.path for p in parts], dtype="str")
    shown = (
        "same as row "
        + pd.Series(numbering[original], index=repeat).astype("str")
        + " of "
        + pd.Series(paths.to_numpy()[file_index], index=repeat, dtype="str")
    )
    added = problems(repeat, ROW_FIELD, shown, "exact_duplicate")
    rows = part.harmonised.rows
    result = Harmonised(
        rows=rows.drop(index=rows.index.intersection(pd.Index(repeat))),
        problems=pd.concat([found[~found["row"].isin(repeat)], added], ignore_index=True),
        duplicates_removed=part.harmonised.duplicates_removed + len(repeat),
    )
    return FilePart(
        part.path, part.sha256, part.source_rows, part.ragged, result, part.row_hashes, part.cached
    )
