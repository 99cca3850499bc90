"""Generic importer: a YAML mapping file says which export header feeds which contract column.

For exports with no dedicated importer — Taobao/Tmall, JD, Douyin shop order reports, ERP dumps — in GBK
(GB18030) or UTF-8 with or without BOM, with Chinese headers and ``="…"``/tab-prefixed long ids. The format
of a mapping file is documented in docs/importers.md; ``ecomlib/importers/mappings/`` has examples
(:func:`example_mapping` returns their paths). In short::

    read:    {encoding: auto, delimiter: ",", skip_rows: 0, strip_prefixes: true, dates: auto, decimal: "."}
    store:   {currency: CNY, timezone: Asia/Shanghai}
    tables:
      orders:
        file: "*订单*.csv"            # optional: which files of a SOURCE folder feed this table
        columns:
          order_id: 订单编号           # contract column: export header
          status: {column: 订单状态, values: {交易成功: completed, 交易关闭: cancelled}}
          revenue: {column: 买家实际支付金额, minus: [买家应付邮费]}
          channel: {value: taobao}    # a constant
          refund_amount: 退款金额      # not a contract column: kept as an extra column
        refunds: {column: 退款金额, paid: 买家实际支付金额}

Column spec keys: ``column`` (header) or ``value`` (constant); ``fallback`` (header used where ``column`` is
empty); ``extract`` (regex with one group applied to the text); ``values`` (value map) with ``other`` (for
values not in the map; without it they raise :class:`UnknownValueError`); ``default`` (for empty cells);
``minus`` (headers subtracted, numbers only); ``agg`` (first, last, sum, min, max — how rows of one order,
line or product combine); ``format`` (date format of this column).

Shaping: ``orders`` one row per order_id (``agg`` default first non-empty value), ``order_items`` one row per
(order_id, sku) (quantities summed, unit_price quantity-weighted), ``products`` one row per sku,
``customers`` one row per customer_id (derived from orders when not mapped; first_seen, acquisition_channel
from orders when not mapped); any other contract table maps row for row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from ..contract import ORDER_STATUSES, TABLES
from . import _base as b

MAPPINGS_DIR = Path(__file__).with_name("mappings")
TOP_KEYS = ("description", "read", "store", "tables")
READ_KEYS = {"encoding": str, "delimiter": str, "skip_rows": int, "strip_prefixes": bool, "dates": str,
             "decimal": str, "sheet": str}
READ_DEFAULTS = {"encoding": "auto", "delimiter": ",", "skip_rows": 0, "strip_prefixes": True, "dates": "auto",
                 "decimal": ".", "sheet": None}
TABLE_KEYS = ("file", "columns", "refunds", "drop", "keep", "aggregate")
FILTER_KEYS = ("column", "values", "matches", "empty", "reason")
COLUMN_KEYS = ("column", "value", "fallback", "extract", "values", "other", "default", "minus", "agg", "format",
               "type")
EXTRA_TYPES = {"text": "str", "number": "float", "integer": "int", "date": "time", "bool": "bool"}
AGGS = ("first", "last", "sum", "min", "max")
REQUIRED = {
    "orders": ("order_id", "order_time", "status", "revenue"),
    "order_items": ("order_id", "sku", "quantity", "unit_price"),
    "products": ("sku", "product_name"),
    "customers": ("customer_id",),
}
DEFAULTS = {
    "orders": {"channel": b.UNATTRIBUTED},
    "products": {"category": "unknown"},
}


def example_mapping(name: str = "taobao_orders") -> Path:
    """Path of an example mapping shipped in ``ecomlib/importers/mappings/`` (``taobao_orders``, ``template``)."""
    path = MAPPINGS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise b.ImportOptionError("mapping", f"no example mapping {name!r}.",
                                  valid=sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
    return path


def _kind(table: str, column: str, cspec: Mapping[str, Any] | None = None) -> str:
    spec = TABLES[table]
    if column not in spec.columns and cspec and cspec.get("type"):
        return EXTRA_TYPES[str(cspec["type"])]
    if column in spec.timestamps + spec.dates:
        return "time"
    if column not in spec.columns:
        return "extra"
    dtype = str(spec.model.to_schema().columns[column].dtype)
    return {"int64": "int", "float64": "float", "bool": "bool"}.get(dtype, "str")


def _required(table: str) -> tuple[str, ...]:
    if table in REQUIRED:
        return REQUIRED[table]
    cols = TABLES[table].model.to_schema().columns
    return tuple(c for c, col in cols.items() if not col.nullable)


def load_mapping(mapping: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check a mapping file (or an already-parsed dict); return it normalised.

    Every column spec becomes a dict (a plain string ``"订单编号"`` means ``{"column": "订单编号"}``), ``read`` gets
    its defaults, ``minus`` becomes a list. Problems raise :class:`MappingFileError` naming the key path.

    Example
    -------
    >>> m = load_mapping(example_mapping("taobao_orders"))
    >>> m["tables"]["orders"]["columns"]["order_id"]
    {'column': '订单编号'}
    """
    if isinstance(mapping, Mapping):
        data = dict(mapping)
        path = str(data.pop("path", "<mapping>"))   # a dict this function returned names its file
    else:
        if not Path(mapping).is_file() and (MAPPINGS_DIR / f"{mapping}.yaml").is_file():
            mapping = MAPPINGS_DIR / f"{mapping}.yaml"       # a shipped mapping by name: usaid_scms, facebook_kag…
        path = str(mapping)
        if not Path(mapping).is_file():
            raise b.ImportOptionError("mapping", f"{mapping}: no such mapping file (examples: "
                                                 f"{', '.join(str(p) for p in sorted(MAPPINGS_DIR.glob('*.yaml')))}).")
        try:
            data = yaml.safe_load(Path(mapping).read_text(encoding="utf-8-sig")) or {}
        except yaml.YAMLError as exc:
            raise b.MappingFileError(path, "", f"not valid YAML ({exc})") from None
        except UnicodeDecodeError:
            raise b.MappingFileError(path, "", "not UTF-8 text; save the mapping file as UTF-8") from None
    if not isinstance(data, dict):
        raise b.MappingFileError(path, "", "expected sections read, store and tables")

    def err(key: str, message: str) -> b.MappingFileError:
        return b.MappingFileError(path, key, message)

    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise err("", f"unknown section(s) {unknown}; valid: {', '.join(TOP_KEYS)}")
    read = dict(data.get("read") or {})
    for key, value in read.items():
        if key not in READ_KEYS:
            raise err(f"read.{key}", f"unknown key; valid: {', '.join(READ_KEYS)}")
        if value is not None and not isinstance(value, READ_KEYS[key]):
            raise err(f"read.{key}", f"expected {READ_KEYS[key].__name__}, got {value!r}")
    store = dict(data.get("store") or {})
    bad_store = sorted(set(store) - set(b.STORE_KEYS))
    if bad_store:
        raise err("store", f"unknown key(s) {bad_store}; valid: {', '.join(b.STORE_KEYS)}")
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise err("tables", f"map at least one contract table ({', '.join(TABLES)})")
    out_tables = {}
    for table, tspec in tables.items():
        where = f"tables.{table}"
        if table not in TABLES:
            raise err(where, f"not a contract table; valid: {', '.join(TABLES)}")
        if not isinstance(tspec, dict) or not isinstance(tspec.get("columns"), dict):
            raise err(where, "expected a `columns:` section mapping contract columns to export headers")
        bad = sorted(set(tspec) - set(TABLE_KEYS))
        if bad:
            raise err(where, f"unknown key(s) {bad}; valid: {', '.join(TABLE_KEYS)}")
        if tspec.get("refunds") is not None and table != "orders":
            raise err(f"{where}.refunds", "only orders take a refunds rule")
        columns = {}
        for name, cspec in tspec["columns"].items():
            key = f"{where}.columns.{name}"
            if isinstance(cspec, str):
                cspec = {"column": cspec}
            if not isinstance(cspec, dict):
                raise err(key, f"expected an export header or a spec with {', '.join(COLUMN_KEYS)}; got {cspec!r}")
            cspec = dict(cspec)
            bad = sorted(set(cspec) - set(COLUMN_KEYS))
            if bad:
                raise err(key, f"unknown key(s) {bad}; valid: {', '.join(COLUMN_KEYS)}")
            if ("column" in cspec) == ("value" in cspec):
                raise err(key, "give exactly one of `column` (an export header) or `value` (a constant)")
            if "values" in cspec and not isinstance(cspec["values"], dict):
                raise err(f"{key}.values", "expected a map of export value → contract value")
            if isinstance(cspec.get("minus"), str):
                cspec["minus"] = [cspec["minus"]]
            if "minus" in cspec and _kind(table, str(name), cspec) not in ("float", "int"):
                raise err(f"{key}.minus", "only numeric contract columns can subtract columns")
            if "type" in cspec and (cspec["type"] not in EXTRA_TYPES or name in TABLES[table].columns):
                raise err(f"{key}.type", f"`type` is for extra (non-contract) columns: one of "
                                         f"{', '.join(EXTRA_TYPES)}")
            if cspec.get("agg", "first") not in AGGS:
                raise err(f"{key}.agg", f"{cspec['agg']!r} is not one of {', '.join(AGGS)}")
            if "extract" in cspec:
                try:
                    if re.compile(str(cspec["extract"])).groups != 1:
                        raise err(f"{key}.extract", "the regex needs exactly one (group)")
                except re.error as exc:
                    raise err(f"{key}.extract", f"not a valid regex ({exc})") from None
            if table == "orders" and name == "status":
                targets = list(cspec.get("values", {}).values()) + ([cspec["other"]] if "other" in cspec else []) \
                    + ([cspec["value"]] if "value" in cspec else [])
                wrong = sorted({str(t) for t in targets} - set(ORDER_STATUSES))
                if wrong:
                    raise err(f"{key}.values", f"{wrong} not contract statuses; use {', '.join(ORDER_STATUSES)}")
            columns[str(name)] = cspec
        missing = [c for c in _required(table) if c not in columns]
        if missing:
            raise err(f"{where}.columns", f"required contract column(s) {missing} not mapped (see data/README.md)")
        filters = {}
        for kind in ("drop", "keep"):
            rules = tspec.get(kind) or []
            if isinstance(rules, dict):
                rules = [rules]
            if not isinstance(rules, list):
                raise err(f"{where}.{kind}", "expected a list of rules {column, values | matches | empty, reason}")
            for i, rule in enumerate(rules):
                key = f"{where}.{kind}[{i}]"
                if not isinstance(rule, dict) or "column" not in rule:
                    raise err(key, "expected {column: <header>, values: [...] | matches: <regex> | empty: true, "
                                   "reason: <why>}")
                bad = sorted(set(rule) - set(FILTER_KEYS))
                if bad:
                    raise err(key, f"unknown key(s) {bad}; valid: {', '.join(FILTER_KEYS)}")
                tests = [k for k in ("values", "matches", "empty") if k in rule]
                if len(tests) != 1:
                    raise err(key, "give exactly one of `values` (a list), `matches` (a regex) or `empty: true`")
                if "values" in rule and not isinstance(rule["values"], list):
                    rule = {**rule, "values": [rule["values"]]}
                if "matches" in rule:
                    try:
                        re.compile(str(rule["matches"]))
                    except re.error as exc:
                        raise err(f"{key}.matches", f"not a valid regex ({exc})") from None
                rules[i] = rule
            filters[kind] = rules
        aggregate = tspec.get("aggregate", False)
        if not isinstance(aggregate, bool):
            raise err(f"{where}.aggregate", "expected true (sum rows to the table's key) or false")
        if aggregate and table in ("orders", "order_items", "products", "customers"):
            raise err(f"{where}.aggregate", f"{table} is always one row per key; `agg:` on a column says how")
        if aggregate and not TABLES[table].key:
            raise err(f"{where}.aggregate", f"{table} has no key to aggregate to")
        refunds = tspec.get("refunds")
        if refunds is not None:
            if not isinstance(refunds, dict) or "column" not in refunds or set(refunds) - {"column", "paid", "agg"}:
                raise err(f"{where}.refunds", "expected {column: <refund header>, paid: <paid header>} "
                                              "(paid optional: revenue is used)")
        out_tables[table] = {"file": tspec.get("file"), "columns": columns, "refunds": refunds,
                             "drop": filters["drop"], "keep": filters["keep"], "aggregate": aggregate}
    return {"description": data.get("description", ""), "read": {**READ_DEFAULTS, **read}, "store": store,
            "tables": out_tables, "path": path}


def _headers(tspec: Mapping[str, Any]) -> list[str]:
    names = []
    for cspec in tspec["columns"].values():
        names += [cspec[k] for k in ("column", "fallback") if k in cspec] + list(cspec.get("minus", []))
    if tspec.get("refunds"):
        names += [v for k, v in tspec["refunds"].items() if k in ("column", "paid")]
    names += [rule["column"] for kind in ("drop", "keep") for rule in tspec.get(kind, [])]
    return list(dict.fromkeys(str(n) for n in names))


def _read_table(source: Path, tspec: Mapping[str, Any], read: Mapping[str, Any], cache: dict,
                codecs_used: dict) -> pd.DataFrame:
    files = [source] if source.is_file() else b.source_files(source, pattern=tspec.get("file"))
    frames = []
    headers = _headers(tspec)
    for path in files:
        if path not in cache:
            raw, codec = b.read_csv(path, encoding=read["encoding"], delimiter=read["delimiter"],
                                    skip_rows=read["skip_rows"], strip_prefixes=read["strip_prefixes"],
                                    sheet=read.get("sheet"))
            cache[path], codecs_used[path] = raw, codec
        frames.append(b.resolve_columns(cache[path], {h: [h] for h in headers}, path=path,
                                        what="the mapping file names it",
                                        fix="change the header in the mapping file to the export's, or re-export "
                                            "with that column"))
    return pd.concat(frames, ignore_index=True)


def _filter(raw: pd.DataFrame, table: str, tspec: Mapping[str, Any], notes: list[str],
            dropped: list[pd.DataFrame]) -> pd.DataFrame:
    """Apply the table's ``drop`` and ``keep`` rules to the export rows; left-out rows are counted with their reason."""
    out = raw
    for kind in ("drop", "keep"):
        for rule in tspec.get(kind, []):
            text = out[str(rule["column"])]
            if "values" in rule:
                hit = text.isin([str(v) for v in rule["values"]])
            elif "matches" in rule:
                hit = text.str.contains(str(rule["matches"]), regex=True, na=False)
            else:
                hit = text.isna() if rule["empty"] else text.notna()
            gone = hit if kind == "drop" else ~hit
            if gone.any():
                what = (f"{rule['column']} in {rule['values']}" if "values" in rule
                        else f"{rule['column']} matches {rule['matches']!r}" if "matches" in rule
                        else f"{rule['column']} {'empty' if rule['empty'] else 'not empty'}")
                reason = str(rule.get("reason") or (what if kind == "drop" else f"not ({what})"))
                notes.append(f"{table}: {int(gone.sum()):,} rows left out — {reason} ({kind}: {what}).")
                dropped.append(pd.DataFrame({"file": out.loc[gone, "_file"], "row": out.loc[gone, "_row"],
                                             "reason": f"{table}: {reason}"}))
                out = out[~gone]
    return out


def _text(raw: pd.DataFrame, cspec: Mapping[str, Any], label: str) -> pd.Series:
    if "value" in cspec:
        value = cspec["value"]
        return pd.Series(np.nan if value is None else str(value), index=raw.index, dtype="str")
    text = raw[str(cspec["column"])]
    if "fallback" in cspec:
        text = text.fillna(raw[str(cspec["fallback"])])
    if "extract" in cspec:
        text = text.str.extract(str(cspec["extract"]))[0]
    if "values" in cspec:
        tmp = raw[["_file", "_row"]].assign(_v=text)
        mapping = {str(k): (None if v is None else str(v)) for k, v in cspec["values"].items()}
        fix = f"add the values under `values:` of column {label} in the mapping file, or give `other:`"
        text = b.map_values(tmp, "_v", mapping, column=label, fix=fix, other=cspec.get("other"))
    if "default" in cspec:
        text = text.fillna(str(cspec["default"]))
    return text


def _convert(raw: pd.DataFrame, table: str, name: str, cspec: Mapping[str, Any], read: Mapping[str, Any],
             timezone: str | None) -> pd.Series:
    label = f"{cspec.get('column', name)}" if "column" in cspec else f"{table}.{name}"
    text = _text(raw, cspec, label)
    tmp = raw[["_file", "_row"]].assign(_v=text)
    kind = _kind(table, name, cspec)
    if kind == "time":
        return b.parse_dates(tmp, "_v", column=label, date_format=cspec.get("format", read["dates"]),
                             timezone=timezone, option="read.dates")
    if kind in ("float", "int"):
        num = b.parse_numbers(tmp, "_v", column=label, integer=kind == "int", decimal=read["decimal"])
        for other in cspec.get("minus", []):
            num = num - b.parse_numbers(raw, str(other), column=str(other), decimal=read["decimal"]).fillna(0.0)
        return num
    if kind == "bool":
        return b.parse_bools(tmp, "_v", column=label)
    return text


def _group(df: pd.DataFrame, keys: list[str], columns: Mapping[str, Any]) -> pd.DataFrame:
    aggs = {c: columns.get(c, {}).get("agg", "first") for c in df.columns if c not in keys and c != "_row"}
    aggs["_row"] = "first"
    g = df.groupby(keys, sort=False, dropna=False)
    out = g.agg(aggs)
    summed = [c for c, how in aggs.items() if how == "sum"]
    if summed:   # a sum of nothing is empty, not 0 (an open PO line has received nothing *yet*)
        out[summed] = out[summed].where(g[summed].count() > 0)
    return out.reset_index()


def import_mapped(source: str | Path, *, mapping: str | Path | Mapping[str, Any], store: dict | None = None,
                  costs: str | Path | pd.DataFrame | None = None, cost_ratio: float | None = None,
                  sheet: str | None = None) -> b.Converted:
    """Convert an export to contract tables with a YAML mapping file.

    Parameters
    ----------
    source : the export file, or a folder (each table reads the files matching its ``file`` glob, default
        ``*.csv``).
    mapping : path of the mapping file (or the parsed dict); see the module docstring and docs/importers.md.
    store : store facts over the mapping's ``store`` section; ``currency`` is required from one of them unless
        ``orders.currency`` is mapped to an export column (then it must hold one currency).
    costs, cost_ratio : unit costs for ``products`` when the mapping has no ``unit_cost`` column.
    sheet : XLSX sheet to read (over the mapping's ``read.sheet``; default the first sheet).

    Returns
    -------
    Converted with every mapped table, plus ``customers`` derived from orders when not mapped. Extra
    (non-contract) columns are kept as text.

    Example
    -------
    >>> conv = import_mapped("订单报表.csv", mapping=example_mapping("taobao_orders"))   # doctest: +SKIP
    >>> conv.tables["orders"]["status"].value_counts()                                  # doctest: +SKIP
    """
    spec = load_mapping(mapping)
    source = Path(source)
    if not source.exists():
        raise b.ImportOptionError("source", f"{source}: no such file or folder.")
    read, tables_spec = spec["read"], spec["tables"]
    if sheet is not None:
        read = {**read, "sheet": str(sheet)}
    cache: dict = {}
    codecs_used: dict = {}
    raws = {t: _read_table(source, ts, read, cache, codecs_used) for t, ts in tables_spec.items()}
    notes: list[str] = []
    dropped: list[pd.DataFrame] = []
    raws = {t: _filter(raw, t, tables_spec[t], notes, dropped) for t, raw in raws.items()}
    for t, raw in raws.items():
        if raw.empty:
            raise b.ExportFormatError(", ".join(sorted({Path(p).name for p in cache})),
                                      f"no rows of {t} are left after the mapping's drop/keep rules",
                                      fix=f"check tables.{t}.drop / keep in the mapping file")

    found_currency = None
    cur_spec = tables_spec.get("orders", {}).get("columns", {}).get("currency")
    if cur_spec and "column" in cur_spec:
        values = pd.unique(_text(raws["orders"], cur_spec, str(cur_spec["column"])).dropna().str.upper())
        if len(values) > 1:
            raise b.ExportFormatError(b.files_of(raws["orders"], raws["orders"][str(cur_spec["column"])].notna()),
                                      f"orders in several currencies ({', '.join(sorted(values))})",
                                      column=str(cur_spec["column"]), fix="import each currency separately")
        found_currency = values[0] if len(values) else None
    meta = b.resolve_store({**spec["store"], **dict(store or {})}, currency=found_currency)
    tz = meta.get("timezone")

    notes[:0] = [f"{Path(p).name}: read as {c}." for p, c in codecs_used.items()]
    frames: dict[str, pd.DataFrame] = {}
    for table, tspec in tables_spec.items():
        raw = raws[table]
        cols = {name: _convert(raw, table, name, cspec, read, tz) for name, cspec in tspec["columns"].items()}
        df = pd.DataFrame(cols, index=raw.index)
        df["_file"], df["_row"] = raw["_file"], raw["_row"]
        key = list(TABLES[table].key) or []
        if key:
            empty_key = df[key].isna().any(axis=1)
            if empty_key.any():
                dropped.append(pd.DataFrame({"file": df.loc[empty_key, "_file"], "row": df.loc[empty_key, "_row"],
                                             "reason": f"{table}: empty {', '.join(key)}"}))
                notes.append(f"{table}: {int(empty_key.sum()):,} rows with an empty {', '.join(key)} skipped "
                             f"(blank or summary lines).")
                df = df[~empty_key]
        for col, value in DEFAULTS.get(table, {}).items():
            if col not in df:
                df[col] = value
        frames[table] = (df, raw.loc[df.index])

    tables: dict[str, pd.DataFrame] = {}
    if "orders" in frames:
        tables["orders"] = _shape_orders(*frames["orders"], tables_spec["orders"], read, meta, spec["path"], notes)
    if "order_items" in frames:
        tables["order_items"] = _shape_items(frames["order_items"][0], notes, dropped)
    if "products" in frames:
        products = _shape_products(frames["products"][0], tables_spec["products"],
                                   tables.get("order_items"), costs, cost_ratio, notes)
        if products is not None:
            tables["products"] = products
    orders = tables.get("orders")
    if "customers" in frames:
        df = frames["customers"][0]
        customers = _group(df.drop(columns="_file"), ["customer_id"], tables_spec["customers"]["columns"])
        customers = customers.drop(columns="_row")
        if orders is not None:
            derived = b.derive_customers(orders).set_index("customer_id")
            for col in ("first_seen", "acquisition_channel"):
                if col not in customers:
                    customers[col] = customers["customer_id"].map(derived[col])
        tables["customers"] = customers
    elif orders is not None and orders["customer_id"].notna().any():
        tables["customers"] = b.derive_customers(orders)
        notes.append("customers derived from orders (first_seen = first order that is not cancelled).")
    for table, (df, _) in frames.items():
        if table not in tables:
            if tables_spec[table]["aggregate"]:
                key = list(TABLES[table].key)
                grouped = _group(df.drop(columns="_file"), key, tables_spec[table]["columns"])
                merged = len(df) - len(grouped)
                if merged:
                    notes.append(f"{table}: {len(df):,} rows summed to {len(grouped):,} rows, one per "
                                 f"({', '.join(key)}) (`aggregate: true`; each column's `agg:` says how).")
                grouped["source_rows"] = df.groupby(key, sort=False, dropna=False).size().to_numpy()
                df = grouped.assign(_file="")
            tables[table] = df.drop(columns=["_file", "_row"])
    for table, df in tables.items():   # optional (nullable) contract columns not mapped: present and empty
        for col, field_ in TABLES[table].model.to_schema().columns.items():
            if field_.nullable and col not in df:
                df[col] = np.nan
            elif str(field_.dtype) == "int64" and col in df and pd.api.types.is_float_dtype(df[col]):
                whole = df[col].dropna()
                if (whole == np.round(whole)).all():
                    df[col] = df[col].astype("Int64")
    lost = (pd.concat(dropped, ignore_index=True) if dropped
            else pd.DataFrame(columns=["file", "row", "reason"]))
    return b.Converted(tables=tables, store=meta, notes=notes, sources=sorted(cache), dropped=lost)


def _shape_orders(df: pd.DataFrame, raw: pd.DataFrame, tspec: Mapping[str, Any], read: Mapping[str, Any],
                  meta: Mapping[str, str], path: str, notes: list[str]) -> pd.DataFrame:
    """One row per order_id; the refunds rule; defaults for unmapped optional columns."""
    refunds = tspec.get("refunds")
    if refunds:
        df = df.assign(_refund=b.parse_numbers(raw, str(refunds["column"]), decimal=read["decimal"]).fillna(0.0),
                       _paid=(b.parse_numbers(raw, str(refunds["paid"]), decimal=read["decimal"])
                              if refunds.get("paid") else df["revenue"]))
    aggs = {**tspec["columns"], "_refund": {"agg": (refunds or {}).get("agg", "first")}}
    orders = _group(df.drop(columns="_file"), ["order_id"], aggs)
    if refunds:
        refunded = orders["_refund"] > 0.005
        full = orders["_refund"] >= orders["_paid"].fillna(0) - 0.005
        orders["status"] = orders["status"].mask(refunded, np.where(full, "refunded", "partially_refunded"))
        notes.append(f"{int(refunded.sum()):,} orders with a refund marked refunded / partially_refunded.")
        orders = orders.drop(columns=["_refund", "_paid"])
    bad = orders["status"].notna() & ~orders["status"].isin(ORDER_STATUSES)
    if bad.any():
        raise b.UnknownValueError(path, "orders.status", orders.loc[bad, "status"].value_counts().to_dict(),
                                  what="order status", fix="map the export's statuses to contract statuses under "
                                                           "tables.orders.columns.status.values")
    for col, value in {"customer_id": np.nan, "discount": np.nan, "shipping_fee": np.nan,
                       "currency": meta["currency"]}.items():
        if col not in orders:
            orders[col] = value
    return orders.drop(columns="_row")


def _shape_items(df: pd.DataFrame, notes: list[str], dropped: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per (order_id, sku); rows with quantity 0 or empty are dropped."""
    keep = df["quantity"] > 0
    if (~keep).any():
        dropped.append(pd.DataFrame({"file": df.loc[~keep, "_file"], "row": df.loc[~keep, "_row"],
                                     "reason": "order_items: quantity 0 or empty"}))
        notes.append(f"order_items: {int((~keep).sum()):,} rows with quantity 0 or empty dropped.")
    df = df[keep]
    extras = [c for c in df.columns if c not in ("order_id", "sku", "quantity", "unit_price", "_file", "_row")]
    return b.aggregate_lines(df.assign(amount=df["quantity"] * df["unit_price"]), extras=extras)


def _shape_products(df: pd.DataFrame, tspec: Mapping[str, Any], items: pd.DataFrame | None, costs,
                    cost_ratio: float | None, notes: list[str]) -> pd.DataFrame | None:
    """One row per sku with unit_cost from the mapped column, else the cost options; None without any cost."""
    products = _group(df.drop(columns="_file"), ["sku"], tspec["columns"]).drop(columns="_row")
    if "supplier_id" not in products:
        products["supplier_id"] = np.nan
    known = products["unit_cost"] if "unit_cost" in products else None
    if known is not None and known.notna().all():
        return products
    if known is not None and costs is None and cost_ratio is None:
        first = ", ".join(products.loc[known.isna(), "sku"].astype(str).head(b.N_EXAMPLES))
        raise b.ImportOptionError("costs", f"{int(known.isna().sum()):,} SKUs have an empty unit_cost (first: "
                                           f"{first}); fill them in the export, or pass --option costs=<CSV> or "
                                           f"--option cost_ratio=0.5.")
    lines = items if items is not None else pd.DataFrame({"sku": [], "unit_price": []})
    gaps = known.isna() if known is not None else pd.Series(True, index=products.index)
    filled, cost_notes = b.attach_costs(products.loc[gaps].drop(columns="unit_cost", errors="ignore"), lines,
                                        costs=costs, cost_ratio=cost_ratio)
    notes += cost_notes
    if filled is None:
        return None
    return products.assign(unit_cost=(known if known is not None else np.nan)).assign(
        unit_cost=lambda d: d["unit_cost"].fillna(filled["unit_cost"]))
