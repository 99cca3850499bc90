"""The kit's exceptions: one base class and a few precise subclasses with structured attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence


class EcomlibError(Exception):
    """Base class of every error ecomlib raises on purpose."""


@dataclass
class Violation:
    """One broken rule of the data contract, as reported to the user.

    Attributes
    ----------
    table, column : where the rule is broken (column is None for table-level rules).
    rule : what the contract expects, in words ("≥ 0", "unique", "an order_id present in orders").
    n_rows : how many rows break it.
    examples : the first few offending rows as ``"row 12: -1"`` strings (rows count from 1, the first data row).
    fix : what to do about it.
    """

    table: str
    column: str | None
    rule: str
    n_rows: int = 0
    examples: list[str] = field(default_factory=list)
    fix: str = ""

    def describe(self, file: str | None = None) -> str:
        where = f"{file}: " if file else ""
        col = f", column '{self.column}'" if self.column else ""
        rows = f"{self.n_rows:,} row{'s' if self.n_rows != 1 else ''} " if self.n_rows else ""
        text = f"{where}table '{self.table}'{col}: {rows}break{'s' if self.n_rows == 1 else ''} the rule: {self.rule}"
        if not self.n_rows:
            text = f"{where}table '{self.table}'{col}: {self.rule}"
        if self.examples:
            text += f" (first: {'; '.join(self.examples)})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ContractError(EcomlibError):
    """Raised when a dataset breaks the data contract (missing column, bad value, broken key or reference).

    Attributes
    ----------
    violations : list of :class:`Violation`, every broken rule found (validation is lazy).
    files : mapping table → file path the table was read from.
    """

    def __init__(self, violations: list[Violation], files: dict[str, str] | None = None):
        self.violations = list(violations)
        self.files = dict(files or {})
        lines = [v.describe(self.files.get(v.table)) for v in self.violations]
        head = f"the data breaks the contract in {len(lines)} place{'s' if len(lines) != 1 else ''}:"
        super().__init__(head + "\n- " + "\n- ".join(lines) if len(lines) > 1 else lines[0])


class MissingTableError(EcomlibError):
    """Raised when a review needs a table the dataset folder does not have.

    Attributes: ``table``, ``folder``, ``needed_by``. ``message`` replaces the standard wording where the
    table is there but unusable as a whole (a header without rows) or the folder itself is missing.
    """

    def __init__(self, table: str, folder: str, needed_by: str | None = None, *, message: str | None = None):
        self.table, self.folder, self.needed_by = table, folder, needed_by
        who = f" (needed by {needed_by})" if needed_by else ""
        super().__init__(message or (
            f"{folder}: no table '{table}'{who}. Fix: add {table}.csv or {table}.parquet to the folder "
            f"(columns are listed in data/README.md), or use an importer to convert an export."
        ))


class FileEncodingError(EcomlibError):
    """Raised when a CSV file is not in the encoding the dataset declares.

    Attributes: ``path``, ``encoding``, ``offset`` (first bad byte), ``guess`` (an encoding that does decode).
    """

    def __init__(self, path: str, encoding: str, offset: int, guess: str | None, sample: str = ""):
        self.path, self.encoding, self.offset, self.guess = path, encoding, offset, guess
        msg = f"{path}: not valid {encoding} (first bad byte at offset {offset:,})."
        if guess:
            msg += (
                f" It decodes as {guess}{f' ({sample!r})' if sample else ''}, as exports from Chinese platforms often do."
                f" Fix: add `encoding: {guess}` to store.yaml in the dataset folder, or re-save the file as UTF-8."
            )
        else:
            msg += " Fix: re-save the file as UTF-8 (with or without BOM)."
        super().__init__(msg)


class ParameterError(EcomlibError):
    """Raised when a parameter or option is wrong: a parameter set or -p value against a notebook's parameters cell,
    or a function option outside its allowed values.

    Attributes: ``notebook``, ``name``, ``known`` (the notebook's declared parameters with their types).
    """

    def __init__(self, message: str, *, notebook: str | None = None, name: str | None = None,
                 known: dict[str, str] | None = None):
        self.notebook, self.name, self.known = notebook, name, dict(known or {})
        if self.known:
            listing = ", ".join(f"{k} ({t})" for k, t in self.known.items())
            message += f". The notebook's parameters are: {listing}"
        super().__init__(message)


def check_option(name: str, value, allowed) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``allowed`` — one wording for every review's options.

    >>> check_option("unit", "visit", ["session", "user"])
    Traceback (most recent call last):
    ...
    ecomlib.errors.ParameterError: unit must be one of 'session', 'user', not 'visit'
    """
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}, not {value!r}",
                             name=name)


class PeriodError(EcomlibError):
    """Raised when a period cannot be parsed or lies outside the data."""


class NotFittedError(EcomlibError):
    """Raised when a model is used for prediction before ``fit``."""


class FitError(EcomlibError):
    """Raised when a model fit fails or is degenerate (no convergence, parameters at a bound or absurd).

    Attributes: ``model``, ``params`` (what the optimiser returned, may be empty), ``reason``.
    """

    def __init__(self, model: str, reason: str, params: dict | None = None):
        self.model, self.reason, self.params = model, reason, dict(params or {})
        super().__init__(f"{model}: {reason}")


class ReviewError(EcomlibError):
    """Raised when a review run cannot start or finish (no notebooks, bad parameter set, output not writable)."""


# Errors of one review or rules file, kept here so the kit has one hierarchy ---------------------------------
class CurrencyError(EcomlibError):
    """Raised when a table's money is in another currency than the store's.

    Attributes: ``table``, ``expected`` (the store currency), ``found`` (currency → number of rows).
    """

    def __init__(self, table: str, expected: str, found: Mapping[str, int]):
        self.table, self.expected, self.found = table, expected, dict(found)
        listing = ", ".join(f"{cur} ({n:,} row{'s' if n != 1 else ''})" for cur, n in self.found.items())
        super().__init__(
            f"table '{table}': money must be in the store currency {expected}, but the currency column holds "
            f"{listing}. Fix: convert those rows to {expected} before loading (ad platforms often bill in "
            f"USD), or correct `currency` in store.yaml if the store's currency is wrong.")


class ResponseFitError(FitError):
    """Raised when a channel's spend→revenue curve cannot or should not be fitted (too few days, flat spend…).

    Attributes: ``channel``, ``code`` (one of :data:`FIT_CODES`, for translated messages), ``details``
    (numbers behind the reason, e.g. ``{"n_days": 12, "min_days": 28}``), plus ``model``/``reason``.
    """

    def __init__(self, channel: str, code: str, reason: str, details: Mapping[str, float] | None = None):
        self.channel, self.code, self.details = channel, code, dict(details or {})
        super().__init__(f"response curve for '{channel}'", reason)




class FunnelError(ParameterError, ValueError):
    """Raised when funnel options do not fit the data (unknown step, column or frequency; bad window or tables).

    A :class:`~ecomlib.errors.ParameterError`, as every bad option value (unknown unit and mode are checked
    with :func:`~ecomlib.errors.check_option`, the wording all reviews share).
    Attributes: ``option`` (the offending argument), ``valid`` (the accepted values, when there is a list).
    """

    def __init__(self, message: str, *, option: str, valid: Sequence | None = None):
        self.option, self.valid = option, list(valid) if valid is not None else None
        if valid is not None:
            message += f"; valid values: {self.valid}"
        super().__init__(message, name=option)

class RulesError(EcomlibError):
    """Raised when an editable rules file (return reasons, contact reasons, RFM segments, alerts) cannot be read or
    breaks its format.

    Attributes: ``path`` (the file), ``key`` (where in it, e.g. ``codes.shopify.COLOR``), ``problem``,
    ``expected`` (what the key should hold).
    """

    def __init__(self, path: str | Path, key: str, problem: str, expected: str):
        self.path, self.key, self.problem, self.expected = str(path), key, problem, expected
        super().__init__(f"{path}: {key}: {problem}; expected {expected}. Fix: edit the rules file (its header "
                         f"explains the format), or pass rules_path=None to use the packaged rules.")


class EngineError(EcomlibError):
    """A query engine cannot start or cannot read its source (names the engine, the source and the fix)."""
