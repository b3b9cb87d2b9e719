"""Typed canonical fields from a source's raw columns: one parser per field type, bad values named.

``parsed_fields`` maps every canonical field a source provides (a mapped column, a constant, or
the source's own region/business_unit/uom/currency setting) to a typed Series, and lists each
value it could not read as a problem: ``bad_number``, ``bad_date``, ``bad_flag``,
``missing_value`` (a required field that is empty or one of ``na_values``) or ``no_match`` (a
required field whose ``extract`` pattern found nothing). Optional fields may be missing: empty
cells and ``na_values`` sentinels become NaN/NaT there, by design, never a bad value.
Text is stripped; sku codes also have runs of whitespace collapsed and follow ``sku_case``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.quarantine import no_problems, problems
from ml import columns as C
from ml.config import Source
from ml.contracts import DATE_DTYPE, SOURCE_FIELDS, FieldType

__all__ = ["Fields", "field_inputs", "parsed_fields", "typed_missing"]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_SKU_FIELDS = (C.SKU_ID, C.SOURCE_SKU)
_BAD = {"number": "bad_number", "date": "bad_date", "flag": "bad_flag"}


@dataclass(frozen=True)
class Fields:
    """The typed fields of one source (index = raw row position) and the values it could not read."""

    values: pd.DataFrame
    raw: dict[str, pd.Series]  # each field's value as the source gave it, for quarantine rows
    problems: pd.DataFrame


def field_inputs(source: Source) -> dict[str, str | None]:
    """Canonical field -> source column (None when the value is a constant)."""
    inputs: dict[str, str | None] = {}
    for field, setting in (
        (C.REGION, source.region),
        (C.BUSINESS_UNIT, source.business_unit),
        (C.UOM, source.uom),
        (C.CURRENCY, source.currency),
    ):
        if setting is not None and field in SOURCE_FIELDS[source.table].types:
            inputs[field] = None
    inputs.update(dict.fromkeys(source.constants, None))
    inputs.update(source.columns)
    return inputs


def _constant(source: Source, field: str) -> str:
    if field in source.constants:
        return source.constants[field]
    return str(getattr(source, field))


def typed_missing(kind: FieldType, index: pd.Index) -> pd.Series:
    """A column of missing values of the field type's dtype (False for flags)."""
    if kind == "number":
        return pd.Series(np.nan, index=index, dtype="float64")
    if kind == "date":
        return pd.Series(pd.NaT, index=index, dtype=DATE_DTYPE)
    if kind == "flag":
        return pd.Series(False, index=index, dtype="bool")
    return pd.Series(np.nan, index=index, dtype="str")


def _as_text(series: pd.Series) -> pd.Series:
    """Stripped text (NaN where the source has no value), whatever the stored type."""
    if isinstance(series.dtype, pd.StringDtype):
        return series.str.strip()
    if pd.api.types.is_float_dtype(series):
        finite = series.dropna()
        if len(finite) and bool((finite % 1 == 0).all()):
            series = series.astype("Int64")  # ids stored as floats: 17850.0 -> "17850"
    return series.astype("str").where(series.notna()).str.strip()


def _stored_kind(series: pd.Series) -> str | None:
    """'number', 'date' or 'flag' when the source stored typed values (parquet, SQL)."""
    if pd.api.types.is_bool_dtype(series):
        return "flag"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_object_dtype(series):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("date", "datetime", "datetime64"):
            return "date"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "number"
        if inferred == "boolean":
            return "flag"
    return None


def _numbers(text: pd.Series) -> pd.Series:
    try:  # arrow's parser is ~30x faster than to_numeric; it refuses any bad value
        values = pc.cast(pa.array(text, type=pa.large_string()), pa.float64())
        return pd.Series(values.to_numpy(zero_copy_only=False), index=text.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _dates(series: pd.Series) -> pd.Series:
    out = pd.to_datetime(series, errors="coerce")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert(None)
    return out.astype(DATE_DTYPE)


def _parsed(
    series: pd.Series, kind: FieldType, text: pd.Series, missing: pd.Series, fmt: str | None
) -> tuple[pd.Series, pd.Series]:
    """Typed values and the mask of values present but unreadable."""
    none_bad = pd.Series(False, index=series.index)
    stored = _stored_kind(series)
    if kind in ("id", "text"):
        return text.where(~missing), none_bad
    if kind == "number" and stored == "number":
        return series.astype("float64"), none_bad
    if kind == "date" and stored == "date":
        return _dates(series), none_bad
    if kind == "flag" and stored in ("flag", "number"):
        return pd.Series(series.fillna(0).astype(bool), index=series.index), none_bad
    present = text.where(~missing)
    if kind == "number":
        values = _numbers(present)
        return values, values.isna() & ~missing
    if kind == "date":
        values = pd.to_datetime(present, format=fmt or "ISO8601", errors="coerce")
        return values.astype(DATE_DTYPE), values.isna() & ~missing
    lowered = present.str.lower()
    truth = lowered.isin(_TRUE).astype(bool)
    return truth, ~missing & ~truth & ~lowered.isin(_FALSE)


def _required(source: Source) -> set[str]:
    spec = SOURCE_FIELDS[source.table]
    required = set(spec.required)
    provided = field_inputs(source)
    for group in spec.one_of:  # of each one-of group, the first provided field is required
        given = [f for f in group if f in provided]
        if given:
            required.add(given[0])
    return required


def parsed_fields(raw: pd.DataFrame, source: Source) -> Fields:
    """Every field the source provides, typed, with the problems met on the way."""
    types = SOURCE_FIELDS[source.table].types
    required = _required(source)
    na = list(source.na_values)
    values: dict[str, pd.Series] = {}
    given: dict[str, pd.Series] = {}
    found = [no_problems()]
    for field, column in field_inputs(source).items():
        kind = types[field]
        series = (
            raw[column]
            if column is not None
            else pd.Series(_constant(source, field), index=raw.index, dtype="str")
        )
        given[field] = series
        text = _as_text(series)
        missing = text.isna() | (text == "")
        if na:
            missing |= text.isin(na)
        value, bad = _parsed(series, kind, text, missing, source.date_formats.get(field))
        if kind in _BAD:
            found.append(problems(raw.index[bad.to_numpy()], field, series, _BAD[kind]))
        if kind in ("id", "text"):
            value = _normalised(value, field, source)
            if field in source.extract:
                extracted = value.str.extract(source.extract[field], expand=False).astype("str")
                if field in required:
                    no_match = (extracted.isna() & value.notna()).to_numpy()
                    found.append(problems(raw.index[no_match], field, series, "no_match"))
                value = extracted
            if field in source.recode:
                value = _recoded(value, source.recode[field])
        if field in required:
            found.append(problems(raw.index[missing.to_numpy()], field, series, "missing_value"))
        values[field] = value
    return Fields(
        values=pd.DataFrame(values, index=raw.index),
        raw=given,
        problems=pd.concat(found, ignore_index=True),
    )


def _normalised(value: pd.Series, field: str, source: Source) -> pd.Series:
    if field not in _SKU_FIELDS:
        return value
    spaced = value.str.contains("  ", regex=False) | value.str.contains("\t", regex=False)
    if spaced.any():
        value = value.str.replace(r"\s+", " ", regex=True)
    return value.str.upper() if source.sku_case == "upper" else value


def _recoded(value: pd.Series, mapping: dict[str, str]) -> pd.Series:
    by_upper = {k.strip().upper(): v for k, v in mapping.items()}
    mapped = value.str.upper().map(by_upper)
    return mapped.where(mapped.notna(), value).astype("str")
