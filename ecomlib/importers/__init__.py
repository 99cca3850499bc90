"""Importers: convert real platform exports into a contract dataset folder (``<table>.csv`` + ``store.yaml``).

================================  ===========================================================================
kind                              reads
================================  ===========================================================================
``shopify``                       Shopify Orders CSV (one row per line item) — :func:`import_shopify`
``uci_online_retail``             UCI Online Retail / Online Retail II CSVs — :func:`import_uci_online_retail`
``olist``                         Olist Brazilian e-commerce CSV folder (CC BY-NC-SA: tests only) —
                                  :func:`import_olist`
``mapping``                       any CSV/XLSX export described by a YAML mapping file (Taobao, JD…; row
                                  filters, aggregation, constants) — :func:`import_mapped`
``google_ads``, ``meta_ads``      ads reports as downloaded (CSV, UTF-16 "CSV for Excel", XLSX) → ad_spend —
                                  :func:`import_google_ads`, :func:`import_meta_ads`
``amazon_returns``                Amazon FBA customer returns report → returns — :func:`import_amazon_returns`
``purchase_orders``               ERP purchase orders / goods receipts via a mapping → purchase_orders,
                                  suppliers (``usaid_scms`` shipped) — :func:`import_purchase_orders`
``ga4``                           GA4 BigQuery export (NDJSON, JSON array, Parquet; streamed) → events —
                                  :func:`import_ga4`
``transactions``                  a customer/date/amount log without order ids (CDNOW) → orders —
                                  :func:`import_transactions`
================================  ===========================================================================

Every CSV is written formula-safe (:mod:`ecomlib.csvout`), atomically (a failed import leaves the folder as it
was), and ``add=True`` adds an import's tables to an existing dataset folder.

:func:`import_export` runs one of them, writes the folder, validates it with :func:`ecomlib.load_dataset` and
returns table → path (an :class:`ImportResult`, whose ``notes`` list the assumptions made and rows dropped).
What each importer assumes is in its module docstring and in docs/importers.md.

Example
-------
>>> from ecomlib.importers import import_export
>>> paths = import_export("uci_online_retail", "online_retail.csv", "data/uci",
...                       store={"currency": "GBP"}, cost_ratio=0.5)          # doctest: +SKIP
>>> paths["orders"]                                                          # doctest: +SKIP
PosixPath('data/uci/orders.csv')
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

import yaml

from ._base import (AmbiguousDateError, Converted, ExportFormatError, ImporterError, ImportOptionError, ImportResult,
                    MappingFileError, UnknownValueError, write_dataset)
from .ads import import_google_ads, import_meta_ads
from .mapping import example_mapping, import_mapped, load_mapping
from .ga4 import import_ga4
from .olist import import_olist
from .purchase_orders import import_purchase_orders
from .returns import import_amazon_returns
from .transactions import import_transactions
from .shopify import import_shopify
from .uci import import_uci_online_retail

IMPORTERS: dict[str, Callable[..., Converted]] = {
    "shopify": import_shopify,
    "uci_online_retail": import_uci_online_retail,
    "olist": import_olist,
    "mapping": import_mapped,
    "google_ads": import_google_ads,
    "meta_ads": import_meta_ads,
    "amazon_returns": import_amazon_returns,
    "purchase_orders": import_purchase_orders,
    "ga4": import_ga4,
    "transactions": import_transactions,
}
"""Import kind → function ``(source, *, store=None, **options) -> Converted``."""


def importer_options(kind: str) -> dict[str, Any]:
    """The options one importer accepts (name → default; ``inspect.Parameter.empty`` when required).

    Example
    -------
    >>> sorted(importer_options("uci_online_retail"))[:3]
    ['channel', 'cost_ratio', 'costs']
    """
    func = _importer(kind)
    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "store"}


def parse_option(text: str) -> tuple[str, Any]:
    """``"name=value"`` from a command line into ``(name, value)``; the value is read as YAML.

    So ``cost_ratio=0.45`` gives a float, ``date_format=dayfirst`` a string, ``shipping_codes=[POST]`` a list,
    ``status_map={chargeback: refunded}`` a dict.

    Example
    -------
    >>> parse_option("cost_ratio=0.45")
    ('cost_ratio', 0.45)
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ImportOptionError("option", f"{text!r}: expected NAME=VALUE, e.g. cost_ratio=0.45.")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return name.strip(), parsed


def _importer(kind: str) -> Callable[..., Converted]:
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ImportOptionError("kind", f"unknown import kind {kind!r}.", valid=IMPORTERS) from None


def import_export(kind: str, source: str | Path, out: str | Path, *, store: dict | None = None,
                  overwrite: bool = False, validate: bool = True, add: bool | str = False,
                  **options: Any) -> ImportResult:
    """Convert an export with importer ``kind`` and write it as a dataset folder ``out``.

    Parameters
    ----------
    kind : one of :data:`IMPORTERS` (``shopify``, ``uci_online_retail``, ``olist``, ``mapping``, ``google_ads``,
        ``meta_ads``, ``amazon_returns``, ``purchase_orders``, ``ga4``, ``transactions``).
    source : the export file or folder.
    out : dataset folder to write (created; a folder already holding contract files needs ``overwrite``).
    store : store facts ``name``, ``currency`` (ISO 4217), ``timezone`` (IANA), ``lang`` (en/zh). The currency
        is taken from the export when it says it (Shopify ``Currency``); otherwise it is required here.
    overwrite : replace the contract files already in ``out``.
    add : add this import's tables to the dataset already in ``out`` (tables of the same name are replaced, the
        others and ``store.yaml`` kept; the currency must agree), e.g. ad spend next to imported orders. On a
        command line: ``--option add=true``.
    validate : load the written folder with :func:`ecomlib.load_dataset` (raises ContractError if it breaks
        the contract).
    **options : the importer's own options (see :func:`importer_options`), e.g. ``cost_ratio=0.45``,
        ``date_format="dayfirst"``, ``mapping="taobao.yaml"``.

    Returns
    -------
    ImportResult: table → written CSV path, with ``notes`` (assumptions, dropped rows), ``store_path``
    and ``folder``.

    Example
    -------
    >>> res = import_export("mapping", "订单报表.csv", "data/shop", mapping="taobao_orders.yaml")   # doctest: +SKIP
    >>> print("\\n".join(res.notes))                                                             # doctest: +SKIP
    """
    func = _importer(kind)
    accepted = importer_options(kind)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ImportOptionError("options", f"the {kind} importer has no option {', '.join(map(repr, unknown))}.",
                                valid=sorted(accepted))
    missing = [n for n, d in accepted.items() if d is inspect.Parameter.empty and n not in options]
    if missing:
        raise ImportOptionError(missing[0], f"the {kind} importer needs the option {missing[0]!r} "
                                            f"(CLI: --option {missing[0]}=…).", valid=sorted(accepted))
    add = str(add).strip().lower() in ("true", "yes", "1", "on")
    if add and store is None and (Path(out) / "store.yaml").is_file():
        # The dataset says its currency and time zone: the import uses them unless told otherwise.
        current = yaml.safe_load((Path(out) / "store.yaml").read_text(encoding="utf-8")) or {}
        store = {k: str(current[k]) for k in ("currency", "timezone") if current.get(k)} or None
    converted = func(source, store=store, **options)
    return write_dataset(converted, out, overwrite=overwrite, validate=validate, add=add)


__all__ = [
    "IMPORTERS", "AmbiguousDateError", "Converted", "ExportFormatError", "ImportOptionError", "ImportResult",
    "ImporterError", "MappingFileError", "UnknownValueError", "example_mapping", "import_amazon_returns",
    "import_export", "import_ga4", "import_google_ads", "import_mapped", "import_meta_ads", "import_olist",
    "import_purchase_orders", "import_shopify", "import_transactions", "import_uci_online_retail",
    "importer_options", "load_mapping", "parse_option", "write_dataset",
]
