"""Source connectors: read one declared source (csv, parquet, SQL) into a raw frame, or say why not.

A connector reads, it does not interpret: csv cells stay text exactly as written (nothing is
turned into NaN here; sentinels are handled by harmonisation), parquet and SQL columns keep their
stored types. Every problem that stops a whole source from being read raises ``StrataError``
with one message naming the source, the file and what to change in the workspace config.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import difflib
import gzip
import hashlib
import io
import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from ml.config import Source, Workspace
from ml.errors import StrataError

__all__ = ["Extract", "is_pattern", "read_source", "shown_path", "source_files", "source_label"]

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "'\\t' (tab)", "|": "'|'"}


@dataclass(frozen=True)
class Extract:
    """One source as read: raw rows in file order, where they came from, and a fingerprint.

    ``frame`` has a RangeIndex; data row ``i`` (0-based) is ``source_row`` ``i + 1`` — the
    header line is not counted, so source_row 1 is the first data row (for csv, the second
    line of the file unless a quoted cell spans lines). ``ragged`` lists csv rows whose number
    of cells differs from the header: (source_row, text) — they are not in ``frame``, and
    ``frame`` keeps the numbering of the rows around them in ``source_rows``.
    """

    frame: pd.DataFrame
    source_rows: pd.Series  # int64, aligned with frame.index
    path: str  # as the config wrote it, or the SQL URL without password
    sha256: str
    ragged: tuple[tuple[int, str], ...] = ()


def source_label(source: Source, position: int) -> str:
    """How messages name a source: its name and where it sits in the config."""
    return f"source '{source.name}' (sources[{position}] in the workspace config)"


def is_pattern(path: Path) -> bool:
    """Whether a source's path is a glob pattern (``*``, ``?`` or ``[`` in its file name)."""
    return any(ch in path.name for ch in "*?[")


def shown_path(source: Source, file: Path | None = None) -> str:
    """A source file as users see it: the config's path, or its folder and the file's name."""
    assert source.path is not None
    return str(source.path if file is None else source.path.parent / file.name)


def source_files(ws: Workspace, source: Source) -> list[Path]:
    """The files a csv or parquet source reads: its path, or every file its pattern matches in
    name order (possibly none); empty for SQL."""
    if source.kind == "sql" or source.path is None:
        return []
    path = ws.resolve(source.path)
    if not is_pattern(source.path):
        return [path]
    return sorted(p for p in path.parent.glob(path.name) if p.is_file())


def read_source(
    ws: Workspace,
    source: Source,
    position: int,
    cache: dict | None = None,
    file: Path | None = None,
) -> Extract:
    """The raw rows of one source (``file``: which of its :func:`source_files`, default its
    path); StrataError naming source, file and fix when unreadable.

    ``cache`` (a dict the caller owns for one ingest) lets two sources reading the same file
    with the same settings share one read.
    """
    if source.kind == "sql":
        return _read_sql(ws, source, position)
    assert source.path is not None  # the Source model guarantees it for csv and parquet
    path = ws.resolve(source.path) if file is None else file
    label = source_label(source, position)
    shown = shown_path(source, file)
    key = (source.kind, str(path.resolve()), source.encoding, source.delimiter)
    if cache is not None and key in cache:
        extract = cache[key]
        _check_mapped_columns(extract.frame, source, label, f"file {shown}")
        return extract
    if not path.is_file():
        raise StrataError(
            f"{label}: file {shown} does not exist (looked for {path}); "
            f"fix 'path' or put the file there"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        raise StrataError(f"{label}: file {shown} is empty (0 bytes); export it again")
    if source.kind == "parquet":
        frame = _read_parquet(path, label, shown)
        ragged: tuple[tuple[int, str], ...] = ()
    else:
        frame, ragged = _read_csv(data, path, source, label, shown)
    if frame.empty and not ragged:
        raise StrataError(f"{label}: file {shown} has a header but no data rows; export it again")
    extract = Extract(
        frame=frame,
        source_rows=_source_rows(len(frame) + len(ragged), [r for r, _ in ragged]),
        path=shown,
        sha256=digest,
        ragged=ragged,
    )
    if cache is not None:
        cache[key] = extract
    _check_mapped_columns(frame, source, label, f"file {shown}")
    return extract


def _source_rows(n_rows: int, skipped: list[int]) -> pd.Series:
    rows = pd.RangeIndex(1, n_rows + 1).difference(pd.Index(skipped, dtype="int64"))
    return pd.Series(rows.to_numpy(dtype="int64"))


def _decompressed(data: bytes, path: Path, label: str, shown: str) -> bytes:
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.decompress(data)
        if suffix == ".bz2":
            return bz2.decompress(data)
        if suffix == ".xz":
            return lzma.decompress(data)
        if suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise StrataError(
                        f"{label}: zip file {shown} holds {len(members)} files; "
                        f"it must hold exactly one csv"
                    )
                return archive.read(members[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as exc:
        raise StrataError(
            f"{label}: file {shown} is not a valid {suffix[1:]} archive ({exc}); "
            f"export it again or fix 'path'"
        ) from None
    return data


def _text(data: bytes, source: Source, label: str, shown: str) -> str:
    try:
        text = data.decode(source.encoding)
    except LookupError:
        raise StrataError(
            f"{label}: encoding '{source.encoding}' is unknown; "
            f"set 'encoding' to e.g. utf-8, latin-1 or cp1252"
        ) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StrataError(
            f"{label}: file {shown} is not valid {source.encoding} at byte {exc.start} "
            f"(line {line}); set 'encoding' to the file's encoding, e.g. encoding: latin-1 "
            f"(or cp1252)"
        ) from None
    return text.removeprefix("\ufeff")


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _read_csv(
    data: bytes, path: Path, source: Source, label: str, shown: str
) -> tuple[pd.DataFrame, tuple[tuple[int, str], ...]]:
    body = _decompressed(data, path, label, shown)
    if _is_utf8(source.encoding):
        # arrow checks UTF-8 itself; decoding in Python is only needed to say where it breaks
        body = body.removeprefix(codecs.BOM_UTF8)
    else:
        body = _text(body, source, label, shown).encode("utf-8")
    if not body.strip():
        raise StrataError(f"{label}: file {shown} is empty (no header, no rows); export it again")
    # the header is the first line, whichever of \n, \r\n or \r ends it
    first_line = body[:65536].decode("utf-8", errors="replace").splitlines()[0]
    header = next(csv.reader([first_line], delimiter=source.delimiter))
    _check_header(header, source, label, shown)
    ragged_seen: list[str] = []

    def on_ragged(row: pacsv.InvalidRow) -> str:
        ragged_seen.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            parse_options=pacsv.ParseOptions(
                delimiter=source.delimiter, newlines_in_values=True, invalid_row_handler=on_ragged
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.large_string()),  # zero-copy to pandas
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        _text(body, source, label, shown)  # raises the precise encoding error when that is it
        raise StrataError(
            f"{label}: file {shown} cannot be read as csv with delimiter "
            f"{source.delimiter!r} ({_first_line(exc)}); check 'delimiter' and the file"
        ) from None
    if not ragged_seen:
        return table.combine_chunks().to_pandas(), ()  # one chunk: later takes are cheaper
    # arrow cannot say where a ragged row sits once quoted cells may span lines; the
    # standard csv reader can, and is only used on such files.
    return _read_csv_slowly(_text(body, source, label, shown), source.delimiter, header)


def _read_csv_slowly(
    text: str, delimiter: str, header: list[str]
) -> tuple[pd.DataFrame, tuple[tuple[int, str], ...]]:
    rows: list[list[str]] = []
    ragged: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=delimiter)
    next(reader)
    number = 0
    for row in reader:
        if not row:  # blank lines are not data rows, as in the fast path
            continue
        number += 1
        if len(row) == len(header):
            rows.append(row)
        else:
            ragged.append((number, delimiter.join(row)))
    frame = (
        pd.DataFrame(rows, columns=header, dtype="str")
        if rows
        else pd.DataFrame({name: pd.Series(dtype="str") for name in header})
    )
    return frame, tuple(ragged)


def _check_header(header: list[str], source: Source, label: str, shown: str) -> None:
    wanted = set(source.columns.values())
    if len(header) == 1 and len(wanted) > 1:
        only = header[0]
        guess = next((d for d in _DELIMITERS if d != source.delimiter and d in only), None)
        hint = (
            f"the delimiter looks like {_DELIMITER_NAMES[guess]}; set delimiter: "
            f"{_DELIMITER_NAMES[guess].split(' ')[0]}"
            if guess
            else "set 'delimiter' to the character that separates the columns"
        )
        raise StrataError(
            f"{label}: file {shown} has a single column {only[:80]!r} with delimiter "
            f"{_DELIMITER_NAMES.get(source.delimiter, repr(source.delimiter))}; {hint}"
        )


def _check_mapped_columns(frame: pd.DataFrame, source: Source, label: str, where: str) -> None:
    found = [str(c) for c in frame.columns]
    problems = []
    for canonical, column in source.columns.items():
        if column in found:
            continue
        close = difflib.get_close_matches(column, found, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"columns.{canonical}: {column!r}{hint}")
    if problems:
        raise StrataError(
            f"{label}: {where} has no column for {'; '.join(problems)}; columns found: "
            f"{', '.join(repr(c) for c in found)}; fix the 'columns' mapping"
        )


def _read_parquet(path: Path, label: str, shown: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise StrataError(
            f"{label}: file {shown} is not a readable parquet file ({exc}); "
            f"export it again or set kind: csv"
        ) from None
    # rows are numbered by position; an index the writer stored is kept as columns
    named = [n for n in frame.index.names if n is not None]
    return frame.reset_index(drop=not named)


def _read_sql(ws: Workspace, source: Source, position: int) -> Extract:
    label = source_label(source, position)
    assert source.url is not None
    try:
        url = sa.engine.make_url(source.url)
    except sa.exc.ArgumentError as exc:
        raise StrataError(f"{label}: url {source.url!r} is not a SQLAlchemy URL ({exc})") from None
    shown = url.render_as_string(hide_password=True)
    url = _with_resolved_database(ws, url)
    is_file_db = url.drivername.split("+")[0] in ("sqlite", "duckdb")
    if (
        is_file_db
        and url.database not in (None, "", ":memory:")
        and not Path(url.database).is_file()
    ):
        raise StrataError(
            f"{label}: database file {url.database} does not exist (url {shown}); "
            f"fix 'url' (relative paths are read from the workspace root)"
        )
    what = f"table {source.sql_table}" if source.sql_table else "query"
    digest = hashlib.sha256(f"{shown}\n{source.sql_table or source.query}".encode()).hexdigest()
    try:
        engine = sa.create_engine(url)
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise StrataError(
            f"{label}: cannot open {shown} ({_first_line(exc)}); fix 'url' or install its driver"
        ) from None
    try:
        with engine.connect() as conn:
            if source.sql_table:
                quote = conn.dialect.identifier_preparer.quote
                name = ".".join(quote(part) for part in source.sql_table.split("."))
                statement = sa.text(f"SELECT * FROM {name}")
            else:
                statement = sa.text(source.query or "")
            frame = pd.read_sql_query(statement, conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        fix = "fix 'sql_table'" if source.sql_table else "fix 'query'"
        raise StrataError(f"{label}: {what} on {shown} failed: {_first_line(exc)}; {fix}") from None
    finally:
        engine.dispose()
    where = f"{what} on {shown}"
    if frame.empty:
        raise StrataError(
            f"{label}: {where} returned no rows; fix '{'sql_table' if source.sql_table else 'query'}'"
            f" or remove the source"
        )
    _check_mapped_columns(frame, source, label, where)
    return Extract(
        frame=frame,
        source_rows=_source_rows(len(frame), []),
        path=f"{shown}#{source.sql_table or 'query'}",
        sha256=digest,
    )


def _with_resolved_database(ws: Workspace, url):
    """File databases named by a relative path are read from the workspace root, not the cwd."""
    if url.drivername.split("+")[0] not in ("sqlite", "duckdb"):
        return url
    if url.database in (None, "", ":memory:") or Path(url.database).is_absolute():
        return url
    return url.set(database=str(ws.resolve(Path(url.database))))


def _first_line(exc: BaseException) -> str:
    """The driver's own message (pandas and SQLAlchemy wrap it), first line only."""
    while getattr(exc, "orig", None) is None and exc.__cause__ is not None:
        exc = exc.__cause__
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
