"""Formula-safe CSV/XLSX writing for every file the kit writes.

A spreadsheet runs a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or with a tab or carriage
return before one) as a formula: a product name ``=HYPERLINK("http://evil","click")`` from an export becomes
a live link, ``=cmd|' /C calc'!A0`` worse, in the CSV an analyst opens in Excel (OWASP "CSV injection").
Every CSV or XLSX the kit writes goes through :func:`write_csv` / :func:`write_xlsx`, which prefix such text
cells with a single quote ``'`` — the spreadsheet then shows the text as typed — and say how many cells they
changed, so an import report can count them.

Only text is touched: a negative number stored as a number (a float or int column, or a number inside an
object column) is a number, not a formula, and stays as it is. A text cell ``"-5"`` in a text column is
neutralised like any other text (in a text column it is text that a spreadsheet would evaluate). Column
headers are text cells too and are treated the same way.

Example
-------
>>> df = pd.DataFrame({"sku": ["=1+1", "A-1", "-5"], "delta": [-5.0, 2.0, 1.0]})
>>> safe, n = neutralise_formulas(df)
>>> safe["sku"].tolist(), safe["delta"].tolist(), n
(["'=1+1", 'A-1', "'-5"], [-5.0, 2.0, 1.0], 2)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_START = r"^[\t\r]*[=+\-@]|^[\t\r]"
"""Text that a spreadsheet would run: ``=``, ``+``, ``-``, ``@`` first (after tabs/CRs), or a leading tab/CR."""

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _is_text_column(s: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)
            or isinstance(s.dtype, pd.CategoricalDtype))


def _neutralise_series(s: pd.Series) -> tuple[pd.Series, int]:
    """One column: quote the text cells that start like a formula; numbers and empty cells untouched."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = pd.Series(s.cat.categories)
        fixed, _ = _neutralise_series(cats.astype(object))
        if fixed.equals(cats.astype(object)):
            return s, 0
        n = int(s.isin(cats[fixed.to_numpy() != cats.astype(object).to_numpy()]).sum())
        return s.cat.rename_categories(dict(zip(cats, fixed))), n
    values = s.to_numpy(dtype=object)
    if pd.api.types.is_object_dtype(s.dtype):   # may mix numbers and text: only text cells can be formulas
        is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    else:
        is_str = s.notna().to_numpy()
    if not is_str.any():
        return s, 0
    text = pd.Series(values[is_str], dtype=object).astype(str)
    hit = text.str.contains(FORMULA_START, regex=True).to_numpy()
    if not hit.any():
        return s, 0
    positions = np.flatnonzero(is_str)[hit]
    fixed = values.copy()
    fixed[positions] = "'" + text[hit].to_numpy(dtype=object)
    out = pd.Series(fixed, index=s.index, name=s.name, dtype=object)
    if not pd.api.types.is_object_dtype(s.dtype):
        out = out.astype(s.dtype)
    return out, int(hit.sum())


def neutralise_formulas(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A copy of ``df`` whose text cells that a spreadsheet would run as a formula start with ``'``.

    Parameters
    ----------
    df : any table. Text columns (object, string, categorical) are checked cell by cell; numeric, boolean
        and datetime columns are returned as they are (a negative number is not a formula).

    Returns
    -------
    (table, n_changed): the table (same shape, index and columns; headers neutralised the same way) and how
    many cells (headers included) were changed. The input is not modified.

    Example
    -------
    >>> neutralise_formulas(pd.DataFrame({"name": ["@SUM(A1)", "ok", None]}))[1]
    1
    """
    out = df.copy()
    n = 0
    for i, col in enumerate(df.columns):
        s = df.iloc[:, i]
        if _is_text_column(s):
            fixed, k = _neutralise_series(s)
            if k:
                out.isetitem(i, fixed)
                n += k
    headers = pd.Series(list(df.columns), dtype=object)
    fixed_headers, k = _neutralise_series(headers)
    if k:
        out.columns = fixed_headers.tolist()
        n += k
    return out, n


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: a failed write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a written table is as readable as any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(df: pd.DataFrame, path: str | Path, *, index: bool = False, date_format: str = TIME_FORMAT,
              **to_csv_kwargs) -> int:
    """Write ``df`` as a formula-safe UTF-8 CSV (LF line ends, ISO times); return how many cells were neutralised.

    Parameters
    ----------
    df : the table to write.
    path : the CSV file (its folder is created; written through a temporary file and renamed).
    index : write the index as a first column (the index values are neutralised too).
    date_format : format of datetime cells (default ``%Y-%m-%d %H:%M:%S``).
    **to_csv_kwargs : passed to :meth:`pandas.DataFrame.to_csv` (not ``encoding``: always UTF-8).

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> write_csv(pd.DataFrame({"a": ["=2*3", "x"]}), p), p.read_text()
    (1, "a\\n'=2*3\\nx\\n")
    """
    if index:
        df = df.reset_index()
    safe, n = neutralise_formulas(df)
    to_csv_kwargs.setdefault("lineterminator", "\n")
    _atomic(Path(path), lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8", date_format=date_format,
                                                **to_csv_kwargs))
    return n


def write_xlsx(df: pd.DataFrame, path: str | Path, *, sheet_name: str = "Sheet1", index: bool = False) -> int:
    """Write ``df`` as a formula-safe XLSX workbook (one sheet, openpyxl); return how many cells were neutralised.

    openpyxl stores a text starting with ``=`` as a formula; neutralised cells are stored as the text
    ``'=…`` instead, so the workbook holds no formula that came from data.
    """
    if index:
        df = df.reset_index()
    safe, n = neutralise_formulas(df)
    # Excel has no time zones: make tz-aware columns naive (store-local already) rather than fail.
    for i in range(safe.shape[1]):
        s = safe.iloc[:, i]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            safe.isetitem(i, s.dt.tz_localize(None))
    _atomic(Path(path), lambda tmp: safe.to_excel(tmp, index=False, sheet_name=sheet_name, engine="openpyxl"))
    return n


__all__ = ["FORMULA_START", "neutralise_formulas", "write_csv", "write_xlsx"]
