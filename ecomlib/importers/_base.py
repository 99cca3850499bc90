"""Shared machinery of the importers: errors, reading export files, parsing dates/numbers/values, writing a folder.

Every importer turns an export into a :class:`Converted` (contract tables as DataFrames, store facts, notes for
the user); :func:`write_dataset` writes it as a dataset folder (one UTF-8 CSV per table + ``store.yaml``) that
:func:`ecomlib.load_dataset` validates. Nothing here loops over rows: files, columns and a handful of date
styles are the only loops.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import os
import shutil
import tempfile
import difflib
import hashlib
import io
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from ..contract import TABLES
from ..csvout import write_csv
from ..errors import EcomlibError

N_EXAMPLES = 5
STORE_KEYS = ("name", "currency", "timezone", "lang")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
UNATTRIBUTED = "unattributed"


# --------------------------------------------------------------------------------------------------- errors
class ImporterError(EcomlibError):
    """Raised when an export cannot be converted to the contract (base class of the importer errors)."""


class ExportFormatError(ImporterError):
    """Raised when an export file does not have the shape its importer reads (headers, values, encoding, dates).

    Attributes
    ----------
    path : the file (or files) concerned.
    column : the export column concerned, or None.
    problem : what is wrong, in words.
    fix : what to do about it.
    examples : the first offending rows as ``"row 12: 'x'"`` (rows count from 1, the first data row).
    """

    def __init__(self, path: str, problem: str, *, fix: str, column: str | None = None,
                 examples: Sequence[str] = ()):
        self.path, self.problem, self.fix, self.column = str(path), problem, fix, column
        self.examples = list(examples)
        col = f"column '{column}': " if column else ""
        first = f" (first: {'; '.join(self.examples)})" if self.examples else ""
        super().__init__(f"{self.path}: {col}{problem}{first}. Fix: {fix}")


class AmbiguousDateError(ExportFormatError):
    """Raised when every date of a file reads both day-first and month-first, so the format cannot be told.

    Attributes: as :class:`ExportFormatError`, plus ``option`` (the parameter to pass) and ``choices``.
    """

    def __init__(self, path: str, column: str, examples: Sequence[str], *, option: str = "date_format"):
        self.option, self.choices = option, ("dayfirst", "monthfirst")
        problem = ("every date reads both day-first and month-first (no day above 12 in either place), so the "
                   "format cannot be told from the file and is not guessed")
        if option.startswith("read."):   # a mapping file's setting
            fix = (f"set `{option.split('.', 1)[1]}: dayfirst` (D/M/YYYY) or `monthfirst` (M/D/YY) under `read:` "
                   f"in the mapping file, or `format:` on this column")
        else:
            fix = (f"pass {option}='dayfirst' (D/M/YYYY, e.g. UK/EU exports such as UCI Online Retail II) or "
                   f"{option}='monthfirst' (M/D/YY, e.g. US exports); on the command line "
                   f"`--option {option}=dayfirst`")
        super().__init__(path, problem, fix=fix, column=column, examples=examples)


class UnknownValueError(ExportFormatError):
    """Raised when a column holds values the importer has no mapping for (an order status, a yes/no flag…).

    Attributes: as :class:`ExportFormatError`, plus ``values`` (value → number of rows, most frequent first).
    """

    def __init__(self, path: str, column: str, values: Mapping[str, int], *, fix: str, what: str = "value"):
        self.values = dict(values)
        listing = ", ".join(f"{v!r} ({n:,} row{'s' if n != 1 else ''})" for v, n in list(self.values.items())[:10])
        more = f" and {len(self.values) - 10} more" if len(self.values) > 10 else ""
        super().__init__(path, f"{len(self.values)} {what}{'s' if len(self.values) != 1 else ''} with no mapping: "
                         f"{listing}{more}", fix=fix, column=column)


class ImportOptionError(ImporterError):
    """Raised when an importer is called with a missing, unknown or contradictory option (kind, currency, costs…).

    Attributes: ``option`` (its name) and ``valid`` (accepted names or values, may be empty).
    """

    def __init__(self, option: str, message: str, *, valid: Iterable[str] = ()):
        self.option, self.valid = option, list(valid)
        if self.valid:
            message += f" Valid: {', '.join(map(str, self.valid))}."
        super().__init__(message)


class MappingFileError(ImporterError):
    """Raised when a mapping file is not valid YAML or names unknown sections, tables, columns or keys.

    Attributes: ``path`` (the mapping file) and ``key`` (dotted place in the file, e.g. ``tables.orders.columns``).
    """

    def __init__(self, path: str, key: str, message: str):
        self.path, self.key = str(path), key
        super().__init__(f"{self.path}: {key}: {message}" if key else f"{self.path}: {message}")


# --------------------------------------------------------------------------------------------------- results
@dataclass
class Converted:
    """An export converted to contract tables, before writing.

    Attributes
    ----------
    tables : table name → DataFrame with the contract columns first (typed) and extra columns after.
    store : store facts for ``store.yaml`` (``name``, ``currency``, ``timezone``, ``lang``; missing keys omitted).
    notes : sentences for the user about assumptions and dropped rows (a CLI prints them).
    sources : the export files read.
    dropped : export rows left out, one per row: ``file, row`` (1 = first data row), ``reason`` and the
        importer's parsed fields (e.g. ``order_id, sku, quantity, unit_price``); empty when none.
    written : table → CSV already written by a streaming importer (GA4 events), formula-safe, in a folder
        named ``.ecomlib-stream-*`` that :func:`write_dataset` moves in and removes.
    neutralised : table → cells neutralised while streaming ``written`` tables.
    """

    tables: dict[str, pd.DataFrame]
    store: dict[str, str]
    notes: list[str] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "row", "reason"]))
    written: dict[str, Path] = field(default_factory=dict)
    neutralised: dict[str, int] = field(default_factory=dict)


class ImportResult(dict):
    """Table name → path of the written CSV (a ``dict``), with ``notes``, ``dropped`` (see :class:`Converted`),
    ``neutralised`` (table → text cells written with a leading ``'``), ``store_path`` and ``folder`` attributes."""

    def __init__(self, paths: Mapping[str, Path], *, notes: Sequence[str], store_path: Path, folder: Path,
                 dropped: pd.DataFrame | None = None, neutralised: Mapping[str, int] | None = None):
        super().__init__(paths)
        self.notes, self.store_path, self.folder = list(notes), store_path, folder
        self.dropped = dropped if dropped is not None else pd.DataFrame(columns=["file", "row", "reason"])
        self.neutralised = dict(neutralised or {})


# --------------------------------------------------------------------------------------------------- files
def source_files(source: str | Path, *, pattern: str | Sequence[str] | None = "*.csv") -> list[Path]:
    """The export files to read: ``source`` itself, or the files matching ``pattern`` directly in folder ``source``.

    ``pattern`` is a glob or several; None means :data:`EXPORT_PATTERNS` (CSV, text and XLSX files).
    Hidden files and spreadsheet lock files (``~$…``) are skipped.
    """
    path = Path(source)
    if path.is_file():
        return [path]
    patterns = EXPORT_PATTERNS if pattern is None else ([pattern] if isinstance(pattern, str) else list(pattern))
    if path.is_dir():
        files = sorted({p for pat in patterns for p in path.glob(pat)
                        if p.is_file() and not p.name.startswith((".", "~$"))})
        if not files:
            raise ImportOptionError("source", f"{path}: no {' or '.join(patterns)} file in this folder; pass the "
                                              f"export file or a folder holding it.")
        return files
    raise ImportOptionError("source", f"{path}: no such file or folder.")


def _decode(path: Path, raw: bytes, encoding: str) -> tuple[str, str]:
    """Text of ``raw`` and the codec used. ``auto``: BOM-marked UTF-16/UTF-8, else UTF-8, else GB18030."""
    enc = (encoding or "auto").lower()
    if enc == "auto":
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            tried = ["utf-16"]
        else:
            tried = ["utf-8-sig", "gb18030"]
    else:
        try:
            name = codecs.lookup(enc).name
        except LookupError:
            raise ImportOptionError("encoding", f"unknown encoding {encoding!r}.",
                                    valid=["auto", "utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"]) from None
        # Valid UTF-8 wins over a declared legacy encoding (as in ecomlib.dataset): GBK would decode it to garbage.
        tried = ["utf-8-sig"] if name in ("utf-8", "utf-8-sig") else ["utf-8-sig", enc]
    first = None
    for codec in tried:
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError as exc:
            first = first or exc
    guess = None
    for candidate in ("utf-8-sig", "gb18030"):
        if candidate in tried:
            continue
        try:
            raw.decode(candidate)
            guess = candidate
            break
        except UnicodeDecodeError:
            continue
    fix = (f"pass encoding='{guess}' (in a mapping file: `read: {{encoding: {guess}}}`)" if guess
           else "re-save the file as UTF-8")
    raise ExportFormatError(str(path), f"not valid {' or '.join(tried)} text (first bad byte at offset "
                                       f"{first.start:,})", fix=fix)


EXPORT_PATTERNS = ("*.csv", "*.xlsx", "*.txt", "*.tsv")
"""Files of a SOURCE folder an importer reads when it names no pattern: CSV/text exports and XLSX workbooks."""


def is_xlsx(path: Path) -> bool:
    """True for an Excel workbook (``.xlsx``/``.xlsm``: a zip file), whatever other name it was saved under."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04" and path.suffix.lower() not in (".csv", ".txt", ".tsv", ".json")


def _cell_text(value) -> str:
    """An XLSX cell as the text the export showed: ids stay ``17841`` (not ``17841.0``/``1.7841E4``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, (pd.Timestamp, datetime.datetime)):
        return value.strftime("%Y-%m-%d %H:%M:%S" if (value.hour, value.minute, value.second) != (0, 0, 0)
                              else "%Y-%m-%d")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def read_xlsx_rows(path: Path, *, sheet: str | None = None) -> list[list[str]]:
    """The cells of one sheet (first sheet, or ``sheet`` by name) as rows of text, as the export showed them."""
    import openpyxl
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile/openpyxl raise several types for a damaged file
        raise ExportFormatError(str(path), f"not a readable XLSX workbook ({type(exc).__name__}: {exc})",
                                fix="re-download the export, or save it as CSV") from None
    try:
        if sheet is None:
            ws = book.worksheets[0]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise ImportOptionError("sheet", f"{path}: no sheet {sheet!r}; pass --option sheet=NAME.",
                                    valid=book.sheetnames)
        # openpyxl yields rows of cells; turning them to text is the only loop (reading, not computing).
        rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def read_rows(path: Path, *, encoding: str = "auto", sheet: str | None = None,
              delimiters: Sequence[str] = (",", "\t", ";")) -> tuple[list[list[str]], str, str]:
    """Every line of an export as a list of text cells, before any header is known: ``(rows, codec, delimiter)``.

    For reports with lines above the header (ads platforms' title and date range). XLSX → its sheet's rows;
    text → decoded (UTF-16 "CSV for Excel" is tab-separated, else UTF-8 with/without BOM, else GB18030) and
    split with the delimiter among ``delimiters`` that gives the widest row (commas, tabs, semicolons).
    """
    if is_xlsx(path):
        return read_xlsx_rows(path, sheet=sheet), "xlsx", ""
    text, codec = _decode(path, path.read_bytes(), encoding)
    best: tuple[int, str, list[list[str]]] | None = None
    for sep in delimiters:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
        except csv.Error as exc:
            raise ExportFormatError(str(path), f"not a readable CSV ({exc})",
                                    fix="check that the file is the raw export") from None
        width = max((len(r) for r in rows), default=0)
        if best is None or width > best[0]:
            best = (width, sep, rows)
    assert best is not None
    rows = [[c.replace("\ufeff", "") for c in r] for r in best[2]]
    return rows, codec, best[1]


def _frame_from_rows(path: Path, rows: list[list[str]], skip_rows: int) -> pd.DataFrame:
    rows = [r for r in rows[skip_rows:] if any(c.strip() for c in r)]
    if not rows:
        raise ExportFormatError(str(path), "is empty", fix="export a period that has data")
    header = dedupe_headers(rows[0])
    return pd.DataFrame(rows[1:], columns=header, dtype=str) if len(rows) > 1 else pd.DataFrame(columns=header)


def dedupe_headers(header: Sequence[str]) -> list[str]:
    """Headers made unique as pandas does (``Currency code``, ``Currency code.1``): exports repeat some."""
    seen: dict[str, int] = {}
    out = []
    for h in header:
        h = str(h).replace("\ufeff", "").strip()
        if h in seen:
            seen[h] += 1
            out.append(f"{h}.{seen[h]}")
        else:
            seen[h] = 0
            out.append(h)
    return out


def read_csv(path: Path, *, encoding: str = "auto", delimiter: str = ",", skip_rows: int = 0,
             strip_prefixes: bool = False, sheet: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read one export (CSV/text, or an XLSX workbook) as text cells (empty → NaN, whitespace removed) and the codec.

    Handles a UTF-8 BOM, CRLF and CR-only line endings, quoted fields with embedded commas/quotes/newlines.
    An ``.xlsx`` file is read from its first sheet (or ``sheet``) with the cells as the export showed them
    (whole numbers without ``.0``, dates ISO); the codec is then ``xlsx``.
    ``strip_prefixes`` removes the ``="…"``/``=`` prefixes spreadsheets put on long numeric ids (tabs go with
    the whitespace). Adds ``_file`` and ``_row`` (1 = first data row) for error messages.
    """
    if is_xlsx(path):
        df, codec = _frame_from_rows(path, read_xlsx_rows(path, sheet=sheet), skip_rows), "xlsx"
    else:
        text, codec = _decode(path, path.read_bytes(), encoding)
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=delimiter, skiprows=skip_rows,
                             skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ExportFormatError(str(path), f"not a readable CSV ({str(exc).strip()})",
                                    fix="check the delimiter and that the file is the raw export") from None
    if df.empty:
        raise ExportFormatError(str(path), "has a header but no data rows", fix="export a period that has orders")
    df.columns = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    cells = {}
    for col in df.columns:
        s = df[col].astype("str").str.strip()
        if strip_prefixes:
            s = s.str.replace(r'^="(.*)"$', r"\1", regex=True).str.replace(r"^=(?=\d)", "", regex=True).str.strip()
        cells[col] = s.mask(s == "")
    out = pd.DataFrame(cells, index=df.index)
    out["_file"] = str(path)
    out["_row"] = np.arange(1, len(out) + 1)
    return out, codec


def resolve_columns(df: pd.DataFrame, fields: Mapping[str, Sequence[str]], *, path: Path, what: str, fix: str,
                    optional: Iterable[str] = ()) -> pd.DataFrame:
    """Rename the export's headers to logical field names; headers match case- and space-insensitively.

    ``fields``: logical name → accepted headers (aliases); ``what`` says who expects them ("every Shopify
    Orders CSV has it"). A required field with no header raises
    :class:`ExportFormatError` naming every missing header, close matches and the headers found.
    Optional fields that are absent become all-empty columns. Returns a new DataFrame with the logical
    columns plus ``_file``/``_row``.
    """
    optional = set(optional)
    norm = {re.sub(r"\s+", " ", c).casefold(): c for c in df.columns if c not in ("_file", "_row")}
    found, missing = {}, []
    for name, aliases in fields.items():
        hit = next((norm[re.sub(r"\s+", " ", a).casefold()] for a in aliases
                    if re.sub(r"\s+", " ", a).casefold() in norm), None)
        if hit is not None:
            found[name] = hit
        elif name not in optional:
            missing.append(aliases[0])
    if missing:
        headers = [c for c in df.columns if c not in ("_file", "_row")]
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, headers, n=1, cutoff=0.6)
            if close:
                hints.append(f"'{m}' (found '{close[0]}')")
        hint = f"; close matches: {', '.join(hints)}" if hints else ""
        listed = ", ".join(headers[:12]) + (f", … ({len(headers)} in all)" if len(headers) > 12 else "")
        raise ExportFormatError(str(path), f"no column {', '.join(repr(m) for m in missing)} ({what}){hint}. "
                                           f"Headers found: {listed}", fix=fix)
    out = pd.DataFrame({name: df[col] for name, col in found.items()}, index=df.index)
    for name in fields:
        if name not in out:
            out[name] = pd.Series(np.nan, index=df.index, dtype="str")
    out["_file"], out["_row"] = df["_file"], df["_row"]
    return out


def files_of(raw: pd.DataFrame, mask: pd.Series) -> str:
    """The file (or first few file names) the rows under ``mask`` come from, for error messages."""
    files = pd.unique(raw.loc[mask, "_file"])
    return str(files[0]) if len(files) == 1 else ", ".join(Path(f).name for f in files[:3])


def examples(raw: pd.DataFrame, mask: pd.Series, values: pd.Series) -> list[str]:
    """``"row 12: '3,5x'"`` for the first few rows under ``mask`` (file name added when several files are read)."""
    idx = raw.index[mask.to_numpy()][:N_EXAMPLES]
    several = raw["_file"].nunique() > 1
    out = []
    for i in idx:
        prefix = f"{Path(raw.at[i, '_file']).name} " if several else ""
        out.append(f"{prefix}row {raw.at[i, '_row']}: {values.at[i]!r}")
    return out


def fail(raw: pd.DataFrame, mask: pd.Series, values: pd.Series, column: str, problem: str, fix: str,
         *, unit: str = "row") -> None:
    """Raise :class:`ExportFormatError` for the rows under ``mask`` when there are any."""
    if mask.any():
        n = int(mask.sum())
        raise ExportFormatError(files_of(raw, mask), f"{n:,} {unit}{'s' if n != 1 else ''} {problem}", fix=fix,
                                column=column, examples=examples(raw, mask, values))


def _distinct(raw: pd.DataFrame, field_: str) -> pd.DataFrame:
    """The first row of each distinct non-empty value of ``field_`` (exports repeat values: parse each once)."""
    text = raw[field_]
    return raw.loc[text.notna() & ~text.duplicated(), ["_file", "_row", field_]]


def _spread(raw: pd.DataFrame, field_: str, distinct: pd.DataFrame, parsed: pd.Series) -> pd.Series:
    """Map values parsed on :func:`_distinct` rows back to every row of ``raw``."""
    lookup = pd.Series(parsed.to_numpy(), index=distinct[field_].to_numpy())
    return raw[field_].map(lookup)


# --------------------------------------------------------------------------------------------------- values
_MONEY_JUNK = r"[¥￥$€£\s\u00a0]"


def parse_numbers(raw: pd.DataFrame, field_: str, *, column: str | None = None, integer: bool = False,
                  decimal: str = ".", fix: str | None = None) -> pd.Series:
    """Numbers from text: currency signs and thousands separators removed; bad cells raise ExportFormatError.

    Returns float64 (NaN where the cell is empty). ``integer`` also rejects fractional values.
    """
    full, raw = raw, _distinct(raw, field_)
    text = raw[field_].str.replace(_MONEY_JUNK, "", regex=True)
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = raw[field_].notna() & num.isna()
    fail(raw, bad, raw[field_], column or field_, "are not numbers",
         fix or "remove text from the column, or check the decimal separator (in a mapping file: "
                "`read: {decimal: ','}`)", unit="distinct value")
    if integer:
        frac = num.notna() & (num != np.round(num))
        fail(raw, frac, raw[field_], column or field_, "are not whole numbers", "quantities must be whole units",
             unit="distinct value")
    return _spread(full, field_, raw, num).astype("float64")


def map_values(raw: pd.DataFrame, field_: str, mapping: Mapping[str, str], *, column: str, fix: str,
               what: str = "value", other: str | None = None) -> pd.Series:
    """Map text values through ``mapping`` (exact match first, then case-insensitive); empty stays NaN.

    Values with no mapping raise :class:`UnknownValueError` unless ``other`` is given.
    """
    values = raw[field_]
    exact = values.map(dict(mapping))
    lower = {str(k).casefold(): v for k, v in mapping.items()}
    out = exact.fillna(values.str.casefold().map(lower))
    unknown = values.notna() & out.isna()
    if unknown.any():
        if other is not None:
            return out.mask(unknown, other)
        counts = values[unknown].value_counts()
        raise UnknownValueError(files_of(raw, unknown), column, counts.to_dict(), fix=fix, what=what)
    return out


_OFFSET_RE = r"\s*(?P<off>Z|[+-]\d{2}:?\d{2})$"
_TIME_RE = r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?\s*$"
_STYLES = {
    "ymd": r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME_RE,
    "slash": r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4}|\d{2})" + _TIME_RE,
    "mon": r"^(?P<d>\d{1,2})[- ](?P<mon>[A-Za-z]{3})[- ](?P<y>\d{4}|\d{2})" + _TIME_RE,
}
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"], start=1)}
DATE_FORMATS = ("auto", "iso", "dayfirst", "monthfirst")


def split_offset(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split ``'2026-03-01 14:05:11 +0800'`` into the local part and the offset in minutes (NaN when none)."""
    parts = text.str.extract(_OFFSET_RE)
    off = parts["off"]
    sign = np.where(off.str.startswith("-"), -1, 1)
    digits = off.str.replace(r"[^0-9]", "", regex=True)
    minutes = (pd.to_numeric(digits.str[:2], errors="coerce") * 60 + pd.to_numeric(digits.str[2:], errors="coerce"))
    minutes = (minutes * sign).where(off != "Z", 0.0).where(off.notna())
    local = text.str.replace(_OFFSET_RE, "", regex=True)
    return local, minutes.astype("float64")


def _year(y: pd.Series) -> pd.Series:
    y = pd.to_numeric(y, errors="coerce")
    return y.where(y >= 100, np.where(y < 69, 2000 + y, 1900 + y))


def parse_dates(raw: pd.DataFrame, field_: str, *, column: str | None = None, date_format: str | None = "auto",
                timezone: str | None = None, option: str = "date_format") -> pd.Series:
    """Naive datetimes from export text in ISO/YYYY/M/D, D/M/YYYY, M/D/YY or D-Mon-YY form, never guessed.

    Parameters
    ----------
    raw : export rows (with ``_file``/``_row``); ``field_`` is the text column to parse.
    date_format : ``auto`` (detect: ISO and D-Mon-YY are unambiguous; slashed dates are day-first when a first
        number exceeds 12, month-first when a second one does, else :class:`AmbiguousDateError`), ``iso``,
        ``dayfirst``, ``monthfirst``, or an explicit ``strftime`` format such as ``"%d.%m.%Y %H:%M"``.
    timezone : values with an offset (``+0800``, ``Z``) are converted to this IANA zone; required when any has one.

    Returns datetime64 (naive, store-local; NaT where the cell is empty). Unparseable cells raise
    :class:`ExportFormatError` naming the rows.
    """
    distinct = _distinct(raw, field_)
    if distinct.empty:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    parsed = _parse_dates(distinct, field_, column=column or field_, fmt=date_format or "auto", timezone=timezone,
                          option=option)
    return _spread(raw, field_, distinct, parsed).astype("datetime64[us]")


def _parse_dates(raw: pd.DataFrame, field_: str, *, column: str, fmt: str, timezone: str | None,
                 option: str) -> pd.Series:
    text = raw[field_]
    local, offset = split_offset(text.fillna(""))
    local = local.where(text.notna())
    if "%" in fmt:
        out = pd.to_datetime(local, format=fmt, errors="coerce")
        fail(raw, text.notna() & out.isna(), text, column, f"do not match the date format {fmt!r}",
             "pass the format the export uses", unit="distinct value")
    else:
        if fmt not in DATE_FORMATS:
            raise ImportOptionError(option, f"unknown date format {fmt!r}.",
                                    valid=list(DATE_FORMATS) + ["a strftime format such as '%d.%m.%Y %H:%M'"])
        out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
        matched = pd.Series(False, index=raw.index)
        for style, pattern in _STYLES.items():
            todo = local.notna() & ~matched
            if not todo.any():
                break
            parts = local[todo].str.extract(pattern).reindex(raw.index)
            hit = parts["y"].notna() & ~matched
            if not hit.any():
                continue
            parts = parts[hit]
            if style == "ymd":  # year first: unambiguous whatever date_format says
                year, month, day = _year(parts["y"]), parts["m"], parts["d"]
            elif style == "mon":
                year, month, day = _year(parts["y"]), parts["mon"].str.lower().map(_MONTHS), parts["d"]
            else:
                a, b = pd.to_numeric(parts["a"]), pd.to_numeric(parts["b"])
                if fmt == "iso":
                    fail(raw, hit, text, column, "are not ISO dates (YYYY-MM-DD)",
                         f"pass {option}='dayfirst' or 'monthfirst'", unit="distinct value")
                style_fmt = fmt
                if fmt == "auto":
                    day_first, month_first = bool((a > 12).any()), bool((b > 12).any())
                    if day_first and month_first:
                        mask = pd.Series(False, index=raw.index)
                        mask[a.index[(a > 12).to_numpy()][:2]] = True
                        mask[b.index[(b > 12).to_numpy()][:2]] = True
                        raise ExportFormatError(
                            files_of(raw, hit), "mixes day-first dates (first number above 12) and month-first dates "
                            "(second number above 12)", column=column, examples=examples(raw, mask, text),
                            fix=f"correct the export, then pass {option}='dayfirst' or 'monthfirst'")
                    if not (day_first or month_first):
                        raise AmbiguousDateError(files_of(raw, hit), column,
                                                 examples(raw, hit & (hit.cumsum() <= 3), text), option=option)
                    style_fmt = "dayfirst" if day_first else "monthfirst"
                day, month = (a, b) if style_fmt == "dayfirst" else (b, a)
                year = _year(parts["y"])
            frame = pd.DataFrame({
                "year": pd.to_numeric(year), "month": pd.to_numeric(month), "day": pd.to_numeric(day),
                "hour": pd.to_numeric(parts["H"]).fillna(0), "minute": pd.to_numeric(parts["M"]).fillna(0),
                "second": pd.to_numeric(parts["S"]).fillna(0),
                "microsecond": pd.to_numeric(parts["f"].str.ljust(6, "0")).fillna(0),
            })
            out[hit] = pd.to_datetime(frame, errors="coerce")
            matched |= hit
        bad = text.notna() & out.isna()
        styles = "YYYY-MM-DD, D/M/YYYY, M/D/YY or D-Mon-YY"
        fail(raw, bad, text, column, f"are not valid dates ({styles}, optionally with a time)",
             f"correct the cells, or pass {option} as an explicit strftime format", unit="distinct value")
    has_offset = offset.notna() & out.notna()
    if has_offset.any():
        if timezone is None:
            raise ImportOptionError("timezone", f"{files_of(raw, has_offset)}: column '{column}' has times with a UTC "
                                                f"offset; pass --timezone <IANA zone> (Python: "
                                                f"store={{'timezone': '<IANA zone>'}}) to convert them to the shop's "
                                                f"local time.")
        utc = (out[has_offset] - pd.to_timedelta(offset[has_offset], unit="min")).dt.tz_localize("UTC")
        out[has_offset] = utc.dt.tz_convert(timezone).dt.tz_localize(None)
    return out


_TRUE = {"true", "yes", "y", "1", "是", "t"}
_FALSE = {"false", "no", "n", "0", "否", "f"}


def parse_bools(raw: pd.DataFrame, field_: str, *, column: str | None = None) -> pd.Series:
    """true/false, yes/no, 1/0, 是/否 → bool (object with NaN where empty); anything else raises."""
    mapping = {**{k: True for k in _TRUE}, **{k: False for k in _FALSE}}
    return map_values(raw, field_, mapping, column=column or field_, what="yes/no value",
                      fix="use true/false (yes/no, 1/0, 是/否), or map them with `values:` in the mapping file")


# --------------------------------------------------------------------------------------------------- store
def resolve_store(store: Mapping[str, str] | None, *, currency: str | None = None, timezone: str | None = None,
                  defaults: Mapping[str, str] | None = None, currency_hint: str = "") -> dict[str, str]:
    """Store facts for ``store.yaml``: the caller's ``store`` over values found in the export over ``defaults``.

    ``currency`` is what the export says (None when it says nothing); a caller's currency that contradicts it
    raises :class:`ImportOptionError`, and so does no currency at all.
    """
    given = dict(store or {})
    unknown = sorted(set(given) - set(STORE_KEYS))
    if unknown:
        raise ImportOptionError("store", f"unknown store key(s) {unknown}.", valid=STORE_KEYS)
    out = {k: v for k, v in dict(defaults or {}).items() if v is not None}
    if timezone:
        out["timezone"] = timezone
    if currency:
        if given.get("currency") and str(given["currency"]).upper() != currency:
            raise ImportOptionError("currency", f"the export's amounts are in {currency}, but "
                                                f"--currency {given['currency']} was passed; the kit does not convert "
                                                f"currencies. Drop the option (or pass --currency {currency}) or "
                                                f"convert the export.")
        out["currency"] = currency
    out.update({k: v for k, v in given.items() if v is not None})
    if "currency" not in out:
        raise ImportOptionError("currency", "the export does not say its currency; pass --currency XXX "
                                            f"(ISO 4217 code{currency_hint}; Python: store={{'currency': 'XXX'}}).")
    out["currency"] = str(out["currency"]).upper()
    if not re.fullmatch(r"[A-Z]{3}", out["currency"]):
        raise ImportOptionError("currency", f"{out['currency']!r} is not a 3-letter ISO 4217 code such as CNY or "
                                            f"USD.")
    if "timezone" in out:
        try:
            zoneinfo.ZoneInfo(str(out["timezone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImportOptionError("timezone", f"{out['timezone']!r} is not an IANA time zone such as "
                                                f"Asia/Shanghai or Europe/London.") from None
    if "lang" in out and out["lang"] not in ("en", "zh"):
        raise ImportOptionError("lang", f"{out['lang']!r} is not a report language.", valid=["en", "zh"])
    return {k: str(out[k]) for k in STORE_KEYS if k in out}


def fixed_offset_zone(minutes: pd.Series) -> str | None:
    """``Etc/GMT-8`` when every offset is +08:00 (whole hours); None when there are several or odd ones."""
    distinct = pd.unique(minutes.dropna())
    if len(distinct) != 1 or distinct[0] % 60:
        return None
    hours = int(distinct[0] // 60)
    return "UTC" if hours == 0 else f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"


# --------------------------------------------------------------------------------------------------- tables
def pseudonymize(values: pd.Series) -> pd.Series:
    """A stable 16-hex-digit SHA-256 prefix per value (NaN stays NaN) — for e-mail addresses used as ids."""
    uniques = pd.Series(pd.unique(values.dropna()))
    # SHA-256 (not pandas' hash) so the same address gets the same id in every later import; once per distinct value.
    hashed = dict(zip(uniques, (hashlib.sha256(v.encode()).hexdigest()[:16] for v in uniques)))
    return values.map(hashed)


def aggregate_lines(lines: pd.DataFrame, *, extras: Sequence[str] = (), sums: Sequence[str] = ()) -> pd.DataFrame:
    """Contract ``order_items`` from export lines (``order_id, sku, quantity, amount``): one row per (order, sku).

    Repeated (order, sku) lines are merged: quantities and amounts summed, ``unit_price = amount / quantity``;
    ``source_rows`` counts the export rows merged; ``extras`` keep their first value, ``sums`` are summed.
    """
    agg = {"quantity": ("quantity", "sum"), "amount": ("amount", "sum"), "source_rows": ("quantity", "size"),
           **{c: (c, "first") for c in extras}, **{c: (c, "sum") for c in sums}}
    out = lines.groupby(["order_id", "sku"], sort=False, observed=True).agg(**agg).reset_index()
    out["unit_price"] = (out["amount"] / out["quantity"]).round(6)
    out["quantity"] = out["quantity"].astype("int64")
    return out[["order_id", "sku", "quantity", "unit_price", "source_rows", *extras, *sums]]


def derive_customers(orders: pd.DataFrame, *, region: str | None = None) -> pd.DataFrame:
    """Contract ``customers`` from orders: one row per non-empty ``customer_id``.

    ``first_seen`` is the time of the customer's first order that is not cancelled (their first order of any
    status when every one was cancelled); ``acquisition_channel`` is that order's channel; ``region`` the value
    of the orders column ``region`` on it (empty when None).
    """
    o = orders[orders["customer_id"].notna()]
    o = o.assign(_cancelled=(o["status"] == "cancelled")).sort_values(["_cancelled", "order_time", "order_id"],
                                                                      kind="stable")
    first = o.drop_duplicates("customer_id", keep="first")
    out = pd.DataFrame({"customer_id": first["customer_id"].to_numpy(),
                        "first_seen": first["order_time"].to_numpy(),
                        "acquisition_channel": first["channel"].to_numpy(),
                        "region": first[region].to_numpy() if region else np.nan})
    return out.sort_values(["first_seen", "customer_id"]).reset_index(drop=True)


def read_costs(costs: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A cost table ``sku, unit_cost`` from a CSV file (UTF-8 or GB18030) or a DataFrame."""
    if isinstance(costs, pd.DataFrame):
        raw = costs.astype("str").where(costs.notna())
        raw = raw.assign(_file="costs", _row=np.arange(1, len(raw) + 1))
        path = "costs"
    else:
        path = Path(costs)
        if not path.is_file():
            raise ImportOptionError("costs", f"{path}: no such file (a CSV with columns sku, unit_cost).")
        raw, _ = read_csv(path)
    raw = resolve_columns(raw, {"sku": ["sku"], "unit_cost": ["unit_cost", "cost"]}, path=Path(str(path)),
                          what="a cost file needs sku and unit_cost",
                          fix="give the cost file the columns sku and unit_cost")
    cost = parse_numbers(raw, "unit_cost")
    fail(raw, cost < 0, raw["unit_cost"], "unit_cost", "are negative", "unit costs are ≥ 0")
    dup = raw["sku"].notna() & raw["sku"].duplicated(keep=False)
    fail(raw, dup, raw["sku"], "sku", "repeat a sku", "give each sku one cost")
    return pd.DataFrame({"sku": raw["sku"], "unit_cost": cost}).dropna(subset=["sku"])


def attach_costs(products: pd.DataFrame, order_items: pd.DataFrame, *, costs=None,
                 cost_ratio: float | None = None) -> tuple[pd.DataFrame | None, list[str]]:
    """Add ``unit_cost`` to products from a cost file and/or ``cost_ratio`` × median selling price.

    Returns (products or None, notes). None when neither option is given: the contract's ``unit_cost`` is
    required and exports of orders do not carry it, so products are left out rather than invented.
    """
    if costs is None and cost_ratio is None:
        return None, [
            f"products.csv not written: the export has no unit cost, and the contract's products.unit_cost is "
            f"required. {len(products):,} SKUs found. Pass --option costs=<CSV with sku,unit_cost> (real landed costs) "
            f"or --option cost_ratio=<cost as a fraction of the median selling price, e.g. 0.5> (an assumption) "
            f"to write it. Reviews "
            f"that need products (ad_roas margin, supplier_performance, returns) cannot run until then."]
    notes = []
    unit_cost = pd.Series(np.nan, index=products.index)
    if costs is not None:
        table = read_costs(costs)
        unit_cost = products["sku"].map(table.set_index("sku")["unit_cost"])
        notes.append(f"unit_cost from the cost file for {int(unit_cost.notna().sum()):,} of {len(products):,} SKUs.")
    if cost_ratio is not None:
        ratio = float(cost_ratio)
        if not 0 <= ratio <= 1:
            raise ImportOptionError("cost_ratio", f"cost_ratio={cost_ratio!r}: expected a fraction of the selling "
                                                  f"price between 0 and 1 (0.45 = cost is 45 % of the price).")
        median = order_items.groupby("sku", observed=True)["unit_price"].median()
        fallback = (ratio * products["sku"].map(median).fillna(0.0)).round(4)
        n = int(unit_cost.isna().sum())
        unit_cost = unit_cost.fillna(fallback)
        notes.append(f"ASSUMPTION: unit_cost = {ratio:g} × median selling price for {n:,} SKUs (not from the "
                     f"data); margins and break-even ROAS computed from it are assumptions too.")
    missing = unit_cost.isna()
    if missing.any():
        first = ", ".join(products.loc[missing, "sku"].astype(str).head(N_EXAMPLES))
        raise ImportOptionError("costs", f"{int(missing.sum()):,} SKUs have no cost in the cost file (first: "
                                         f"{first}); add them, or pass --option cost_ratio=0.5 "
                                         f"(a fraction of the median price) as a fallback.")
    return products.assign(unit_cost=unit_cost), notes


def ordered(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Contract columns of ``table`` first, in contract order, then the extra columns (``_``-columns dropped)."""
    contract = [c for c in TABLES[table].columns if c in df]
    extra = [c for c in df.columns if c not in contract and not str(c).startswith("_")]
    return df[contract + extra].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------- writing
def _contract_files(folder: Path) -> list[Path]:
    names = {f"{t}{s}" for t in TABLES for s in (".csv", ".parquet")} | {"store.yaml"}
    return sorted(p for p in folder.iterdir() if p.name in names) if folder.is_dir() else []


def write_dataset(converted: Converted, out: str | Path, *, overwrite: bool = False, validate: bool = False,
                  add: bool = False) -> ImportResult:
    """Write ``converted`` as a dataset folder: ``<table>.csv`` (UTF-8, ISO times) per table and ``store.yaml``.

    Every CSV goes through :func:`ecomlib.csvout.write_csv`: text cells a spreadsheet would run as a formula get
    a leading ``'`` and are counted in the notes (``result.neutralised``: table → cells). The folder is written
    atomically: the tables are written (and, with ``validate``, checked with :func:`ecomlib.load_dataset`) in a
    temporary folder next to ``out`` and swapped in at the end, so a failed import leaves ``out`` as it was.
    A folder that already holds contract files is refused unless ``overwrite`` (then those files are replaced,
    so no stale table from an earlier import stays behind; other files in the folder are left alone) or
    ``add`` (then the tables of this import are added to the dataset, replacing only tables of the same name;
    the dataset's ``store.yaml`` is kept and its currency must be the import's; the whole folder is validated).
    Returns table → path, with the notes attached.
    """
    folder = Path(out)
    existing = _contract_files(folder)
    kept: list[Path] = []
    if add and existing:
        converted = _merge_store(converted, folder)
        written = {f"{t}.csv" for t in [*converted.tables, *converted.written]}
        kept = [p for p in existing if p.name != "store.yaml" and p.name not in written
                and p.with_suffix(".csv").name not in written]
    elif existing and not overwrite:
        raise ImportOptionError("overwrite", f"{folder} already holds a dataset "
                                             f"({', '.join(p.name for p in existing[:4])}…); choose an empty folder "
                                             f"or pass overwrite=True (CLI: --overwrite) to replace it, or "
                                             f"add=True (CLI: --option add=true) to add this import's tables to it.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.import-", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)      # mkdtemp makes it private; the dataset folder is an ordinary one
    try:
        neutralised: dict[str, int] = {}
        for name, df in converted.tables.items():
            neutralised[name] = write_csv(ordered(df, name), staging / f"{name}.csv", date_format=TIME_FORMAT)
        for name, path in converted.written.items():      # streamed tables, already written formula-safe
            shutil.move(str(path), staging / f"{name}.csv")
            neutralised[name] = converted.neutralised.get(name, 0)
        for p in kept:                                      # --option add=true: the dataset's other tables
            try:
                os.link(p, staging / p.name)
            except OSError:
                shutil.copy2(p, staging / p.name)
        store = {k: converted.store[k] for k in STORE_KEYS if k in converted.store}
        store.setdefault("name", folder.name)
        store["encoding"] = "utf-8"
        (staging / "store.yaml").write_text(yaml.safe_dump(store, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")
        if validate:
            from ..dataset import load_dataset
            load_dataset(staging)
        _swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for path in converted.written.values():
            if Path(path).parent.name.startswith(".ecomlib-stream-"):
                shutil.rmtree(Path(path).parent, ignore_errors=True)
    notes = list(converted.notes)
    total = sum(neutralised.values())
    if total:
        per = ", ".join(f"{t} {n:,}" for t, n in neutralised.items() if n)
        notes.append(f"{total:,} text cells that a spreadsheet would run as a formula (=, +, -, @ first) were "
                     f"written with a leading ' ({per}).")
    paths = {name: folder / f"{name}.csv" for name in [*converted.tables, *converted.written]}
    return ImportResult(paths, notes=notes, store_path=folder / "store.yaml", folder=folder,
                        dropped=converted.dropped, neutralised=neutralised)


def _merge_store(converted: Converted, folder: Path) -> Converted:
    """``add``: the dataset's store facts win (name, time zone, language); the currency must be the same."""
    path = folder / "store.yaml"
    if not path.is_file():
        return converted
    current = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cur = str(current.get("currency", "")).upper()
    new = converted.store.get("currency", "")
    if cur and new and cur != new:
        raise ImportOptionError("currency", f"{folder} is a {cur} dataset but this import's amounts are in {new}; "
                                            f"the kit does not convert currencies. Import into a separate folder, or "
                                            f"convert the export.")
    store = {**converted.store, **{k: str(v) for k, v in current.items() if k in STORE_KEYS and v is not None}}
    return Converted(tables=converted.tables, store=store, notes=converted.notes, sources=converted.sources,
                     dropped=converted.dropped, written=converted.written, neutralised=converted.neutralised)


def _swap_in(staging: Path, folder: Path) -> None:
    """Replace the contract files of ``folder`` by those of ``staging``; on any failure put the old ones back."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{folder.name}.previous-", dir=folder.parent))
    moved_old, moved_new = [], []
    try:
        for p in _contract_files(folder):
            os.replace(p, backup / p.name)
            moved_old.append(p.name)
        for p in sorted(staging.iterdir()):
            os.replace(p, folder / p.name)
            moved_new.append(p.name)
    except BaseException:
        for name in moved_new:
            (folder / name).unlink(missing_ok=True)
        for name in moved_old:
            os.replace(backup / name, folder / name)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)
