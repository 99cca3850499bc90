"""Load a dataset folder (one CSV or Parquet file per contract table), check it against the contract, return typed tables.

A dataset folder holds ``<table>.csv`` or ``<table>.parquet`` per table and an optional ``store.yaml``
(``name``, ``currency``, ``timezone``, ``encoding``, ``lang``). Timestamps with a UTC offset are converted
to the store time zone; timestamps without one are taken as store-local. After loading every timestamp
is naive store-local time, stated once in ``Dataset.store.timezone``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd
import pandera.pandas as pa
import yaml

from .contract import TABLES, TableSpec
from .errors import ContractError, FileEncodingError, MissingTableError, Violation

N_EXAMPLES = 5
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class Store:
    """Store-wide facts stated once: display name, currency (ISO 4217), time zone (IANA) and language."""

    name: str = "store"
    currency: str = "USD"
    timezone: str = "UTC"
    lang: str = "en"
    encoding: str = "utf-8"


@dataclass
class Dataset:
    """The contract tables of one store, validated; a table that was not present or not asked for is None.

    Example
    -------
    >>> ds = load_dataset("data/demo", tables=["orders", "events"])   # doctest: +SKIP
    >>> ds.orders.columns[:3].tolist()                                 # doctest: +SKIP
    ['order_id', 'customer_id', 'order_time']
    """

    path: Path
    store: Store
    files: dict[str, str] = field(default_factory=dict)
    orders: pd.DataFrame | None = None
    order_items: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    ad_spend: pd.DataFrame | None = None
    purchase_orders: pd.DataFrame | None = None
    suppliers: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    promotions: pd.DataFrame | None = None
    inventory: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The loaded tables by name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def require(self, *names: str, needed_by: str | None = None) -> None:
        """Raise :class:`MissingTableError` unless every named table is loaded."""
        for name in names:
            if getattr(self, name) is None:
                raise MissingTableError(name, str(self.path), needed_by)

    def summary(self) -> pd.DataFrame:
        """One row per loaded table: rows, first and last timestamp, key columns (for ``ecomlib validate``)."""
        rows = []
        for name, df in self.tables().items():
            spec = TABLES[name]
            time_cols = [c for c in spec.timestamps + spec.dates if c in df]
            first = min((df[c].min() for c in time_cols), default=pd.NaT)
            last = max((df[c].max() for c in time_cols), default=pd.NaT)
            rows.append({"table": name, "file": Path(self.files[name]).name, "rows": len(df),
                         "first": first, "last": last, "key": ", ".join(spec.key) or "—"})
        return pd.DataFrame(rows)


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, table: str, needed_by: str | None = None) -> None:
    """Raise ContractError naming every column of ``columns`` that ``df`` lacks (for public functions that take
    contract tables directly rather than through :func:`load_dataset`)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        rule = f"the column is required by {needed_by}" if needed_by else "the column is required but missing"
        raise ContractError([Violation(table, c, rule, fix=f"add a '{c}' column (see data/README.md) or pass its "
                                                            f"name; the table has {list(df.columns)}")
                             for c in missing])


def read_store(folder: Path) -> Store:
    """Read ``store.yaml`` from a dataset folder; defaults when absent."""
    path = folder / "store.yaml"
    if not path.exists():
        return Store(name=folder.name)
    meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = set(Store.__dataclass_fields__)
    unknown = set(meta) - known
    if unknown:
        raise ContractError([Violation("store", None, f"unknown keys {sorted(unknown)} in store.yaml",
                                       fix=f"use only {sorted(known)}")], {"store": str(path)})
    return Store(**{"name": folder.name, **meta})


def table_file(folder: Path, table: str) -> Path | None:
    """The file holding ``table`` in ``folder`` (Parquet preferred over CSV), or None."""
    for suffix in (".parquet", ".csv"):
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def _check_encoding(path: Path, encoding: str) -> str:
    """The codec to read ``path`` with: UTF-8 (BOM or not) when the bytes are valid UTF-8, else the declared
    encoding; raise FileEncodingError naming a codec that works when neither decodes."""
    raw = path.read_bytes()
    tried = ["utf-8-sig"] + ([encoding] if codecs.lookup(encoding).name != "utf-8" else [])
    failures = []
    for codec in tried:
        try:
            raw.decode(codec)
            return codec
        except UnicodeDecodeError as exc:
            failures.append(exc)
    guess, sample = None, ""
    for candidate in ("gb18030", "utf-16"):
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        guess, sample = candidate, text.splitlines()[0][:40] if text else ""
        break
    raise FileEncodingError(str(path), encoding if len(tried) > 1 else "utf-8", failures[-1].start, guess, sample)


def _read_raw(path: Path, spec: TableSpec, store: Store) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    codec = _check_encoding(path, store.encoding)
    header = pd.read_csv(path, nrows=0, encoding=codec).columns
    inferred = {c for c, col in spec.model.to_schema().columns.items() if str(col.dtype) in ("int64", "float64", "bool")}
    # Everything else is read as text first: timestamps are parsed by _parse_times, and an extra column
    # becomes numeric only when no value would change (a long order id must not become a float).
    dtypes = {c: "str" for c in header if c not in inferred}
    df = pd.read_csv(path, dtype=dtypes, encoding=codec, keep_default_na=True, na_values=[""])
    extras = [c for c in header if c not in spec.columns]
    return df.assign(**{c: _numbers_if_safe(df[c]) for c in extras}) if extras else df


def _numbers_if_safe(text: pd.Series) -> pd.Series:
    """An extra column as numbers when every value is a number that survives the conversion; else the text.

    Ids stay text: values with a leading zero (``007``) or integers too long for a float (Taobao order ids)
    would change if converted.
    """
    if text.isna().all():
        return text
    values = pd.to_numeric(text, errors="coerce")
    present = text.notna()
    if (values[present].isna()).any():
        return text
    stripped = text[present].str.strip().str.lstrip("+-")
    leading_zero = stripped.str.match(r"0\d")
    too_long = stripped.str.replace(r"\.\d*$", "", regex=True).str.len() > 15
    return text if (leading_zero | too_long).any() else values


def _shown(value) -> str:
    """A cell value as the user typed it: text quoted, numbers and timestamps plain."""
    if isinstance(value, str):
        return repr(value)
    return str(value.item() if hasattr(value, "item") else value)


def _examples(df: pd.DataFrame, mask: pd.Series, column: str | None, spec: TableSpec) -> list[str]:
    """The first offending rows as ``row 12 (order_id=O9): -1`` (rows count from 1, the first data row)."""
    out = []
    for i in df.index[mask][:N_EXAMPLES]:
        key = ", ".join(f"{k}={df.at[i, k]}" for k in spec.key if k in df and k != column)
        where = f"row {i + 1}" + (f" ({key})" if key else "")
        out.append(f"{where}: {_shown(df.at[i, column])}" if column and column in df else where)
    return out


def _parse_times(df: pd.DataFrame, spec: TableSpec, store: Store) -> tuple[pd.DataFrame, list[Violation], dict]:
    """Parse timestamp and date columns to naive store-local datetimes; unparseable values become violations."""
    problems = []
    out = {}
    unparsed = {}
    for col in spec.timestamps + spec.dates:
        if col not in df:
            continue
        raw = df[col]
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = raw.dt.tz_convert(store.timezone).dt.tz_localize(None) if raw.dt.tz is not None else raw
        else:
            text = raw.astype("str").where(raw.notna()).str.strip()
            has_offset = text.str.contains(_OFFSET, regex=True, na=False)
            parsed = pd.to_datetime(text.where(~has_offset), errors="coerce", format="ISO8601")
            if has_offset.any():
                aware = pd.to_datetime(text.where(has_offset), errors="coerce", format="ISO8601", utc=True)
                parsed = parsed.where(~has_offset, aware.dt.tz_convert(store.timezone).dt.tz_localize(None))
            bad = raw.notna() & parsed.isna()
            unparsed[col] = bad
            if bad.any():
                problems.append(Violation(
                    spec.name, col, "a date/time in ISO 8601 form (2026-03-01 or 2026-03-01 14:05:11+08:00)",
                    int(bad.sum()), _examples(df, bad, col, spec),
                    "re-export with ISO dates, or read the export with an ecomlib importer that knows its date format"))
        if col in spec.dates:
            parsed = parsed.dt.normalize()
        out[col] = parsed
    return df.assign(**out), problems, unparsed


_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}


def _parse_bools(df: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[Violation]]:
    """Read true/false columns strictly (true/false, 1/0, yes/no, 是/否); anything else is a violation, never True."""
    problems, out = [], {}
    for col, field_ in spec.model.to_schema().columns.items():
        if str(field_.dtype) != "bool" or col not in df or df[col].dtype == bool:
            continue
        text = df[col].astype("str").str.strip().str.lower().where(df[col].notna())
        value = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = text.notna() & value.isna()
        if bad.any():
            problems.append(Violation(spec.name, col, "true or false (also 1/0, yes/no, 是/否)", int(bad.sum()),
                                      _examples(df, bad, col, spec), "write true or false in every row"))
        out[col] = value.where(~bad, None).astype("object")
    return df.assign(**out), problems


def _failure_violations(cases: pd.DataFrame, df: pd.DataFrame, spec: TableSpec,
                        unparsed: dict[str, pd.Series]) -> list[Violation]:
    """Turn pandera's lazy ``failure_cases`` into one Violation per (column, check).

    ``unparsed``: column → rows whose text could not be read as a date; they are reported once, as such,
    not again as missing values.
    """
    violations = []
    missing = cases[cases["check"] == "column_in_dataframe"]
    for col in missing["failure_case"]:
        violations.append(Violation(spec.name, str(col), "the column is required but missing", 0, [],
                                    f"add a '{col}' column (see data/README.md for its type and meaning)"))
    cases = cases[cases["check"] != "column_in_dataframe"]
    coerce_failed = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        check = str(check)
        if column in coerce_failed and not check.startswith("coerce_dtype"):
            continue  # the type is wrong already; range checks on strings only echo it
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).unique()
        mask = df.index.isin(index)
        if column in unparsed:
            mask = mask & ~unparsed[column].to_numpy()
        if not mask.any():
            continue
        violations.append(Violation(spec.name, str(column), _rule_text(check, spec, column), int(mask.sum()),
                                    _examples(df, pd.Series(mask, index=df.index), column, spec),
                                    _fix_text(check)))
    return violations


def _rule_text(check: str, spec: TableSpec, column: str) -> str:
    field_ = spec.model.to_schema().columns[column]
    words = {
        "not_nullable": "a value in every row",
        "greater_than_or_equal_to(0)": "≥ 0",
        "greater_than(0)": "> 0",
        "field_uniqueness": "unique values",
    }
    if check.startswith("coerce_dtype") or check.startswith("dtype"):
        return f"values of type {field_.dtype}"
    if check.startswith("isin"):
        return "one of " + check[len("isin("):-1]
    if check.startswith("str_matches"):
        return "a 3-letter ISO 4217 currency code such as USD or CNY"
    return words.get(check, check)


def _fix_text(check: str) -> str:
    if check.startswith("coerce_dtype") or check.startswith("dtype"):
        return "remove text, units or thousands separators from the column, or convert it with an importer"
    if check == "not_nullable":
        return "fill the missing values or drop those rows"
    if check.startswith("greater_than"):
        return "correct the values; corrections such as refunds belong in their own table, not as negative numbers"
    if check.startswith("isin"):
        return "map these values to the allowed ones (an importer mapping file does this)"
    return "correct the values"


def _validate_table(df: pd.DataFrame, spec: TableSpec, store: Store) -> tuple[pd.DataFrame, list[Violation]]:
    if df.empty:
        return df, [Violation(spec.name, None, "the table has no rows", 0, [],
                              "export a period with data, or remove the file if the store has no such data")]
    df = df.reset_index(drop=True)
    df, problems, unparsed = _parse_times(df, spec, store)
    df, bool_problems = _parse_bools(df, spec)
    problems += bool_problems
    for col in {v.column for v in bool_problems}:
        unparsed[col] = df[col].isna()
    try:
        df = spec.model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems += _failure_violations(exc.failure_cases, df, spec, unparsed)
    if spec.key and all(k in df for k in spec.key):
        dup = df.duplicated(list(spec.key), keep=False)
        if dup.any():
            problems.append(Violation(spec.name, ", ".join(spec.key), f"unique ({', '.join(spec.key)}) per row",
                                      int(dup.sum()), _examples(df, dup, None, spec),
                                      "remove the duplicate rows or aggregate them into one"))
    for rule in spec.row_rules:
        if all(c in df for c in rule.columns):
            ok = rule.ok(df)
            if not ok.all():
                problems.append(Violation(spec.name, rule.columns[0], rule.rule, int((~ok).sum()),
                                          _examples(df, ~ok, rule.columns[0], spec), rule.fix))
    return df, problems


def _check_references(tables: dict[str, pd.DataFrame]) -> list[Violation]:
    problems = []
    for name, df in tables.items():
        spec = TABLES[name]
        for ref in spec.references:
            target = tables.get(ref.table)
            if target is None or ref.column not in df or ref.target_column not in target:
                continue
            bad = df[ref.column].notna() & ~df[ref.column].isin(target[ref.target_column])
            if bad.any():
                problems.append(Violation(
                    name, ref.column, f"every {ref.column} is a {ref.target_column} present in {ref.table}",
                    int(bad.sum()), _examples(df, bad, ref.column, spec),
                    f"add the missing rows to {ref.table}, or drop these {name} rows"))
    return problems


def _check_currency(tables: dict[str, pd.DataFrame], store: Store) -> list[Violation]:
    problems = []
    for name, df in tables.items():
        if "currency" in df:
            bad = df["currency"].notna() & (df["currency"] != store.currency)
            if bad.any():
                problems.append(Violation(
                    name, "currency", f"amounts in the store currency {store.currency}", int(bad.sum()),
                    _examples(df, bad, "currency", TABLES[name]),
                    "convert the amounts to the store currency, or set `currency:` in store.yaml"))
    return problems


def load_dataset(path: str | Path, *, tables: Iterable[str] | None = None,
                 optional: Iterable[str] = (), needed_by: str | None = None) -> Dataset:
    """Read, parse and validate a dataset folder against the contract.

    Parameters
    ----------
    path : folder holding ``<table>.csv|.parquet`` files and optionally ``store.yaml``.
    tables : the tables to load (default: every table present). A listed table that is missing raises
        :class:`MissingTableError`; references are checked among the loaded tables.
    optional : tables to load too when the folder has them (e.g. ``["inventory", "promotions"]``); absent ones
        stay None.
    needed_by : the review asking, named in a :class:`MissingTableError` (``"returns"``).

    Returns
    -------
    Dataset with one DataFrame per loaded table (contract columns typed, extra columns kept,
    timestamps naive store-local). Raises :class:`ContractError` listing every violation found.

    Example
    -------
    >>> ds = load_dataset("data/demo", tables=["orders"])   # doctest: +SKIP
    >>> ds.store.currency                                   # doctest: +SKIP
    'CNY'
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MissingTableError("(any)", str(folder), None) if not folder.exists() else NotADirectoryError(folder)
    store = read_store(folder)
    wanted = list(tables) if tables is not None else [t for t in TABLES if table_file(folder, t)]
    wanted += [t for t in optional if t not in wanted and table_file(folder, t)]
    unknown = [t for t in wanted + list(optional) if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; the contract has {list(TABLES)}")
    loaded: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Violation] = []
    for name in wanted:
        file = table_file(folder, name)
        if file is None:
            raise MissingTableError(name, str(folder), needed_by)
        files[name] = str(file)
        df, found = _validate_table(_read_raw(file, TABLES[name], store), TABLES[name], store)
        problems += found
        loaded[name] = df
    if not problems:
        problems += _check_references(loaded) + _check_currency(loaded, store)
    if problems:
        raise ContractError(problems, files)
    for name, df in loaded.items():
        cats = [c for c in TABLES[name].categories if c in df]
        loaded[name] = df.astype({c: "category" for c in cats}) if cats else df
    return Dataset(path=folder, store=store, files=files, **loaded)
