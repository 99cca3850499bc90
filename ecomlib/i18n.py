"""Message catalogue and locale formatting: every title, label, header and generated sentence in English or Chinese.

The catalogue is plain YAML, one file per module under ``ecomlib/messages/`` (``funnel.yaml`` holds the
keys ``funnel.*``), each key mapping language → text. Texts are ``str.format`` templates whose fields
may name a format: ``{rate:pct}``, ``{amount:money}``, ``{n:int}``, ``{x:num}``, ``{d:pp}``
(percentage points), ``{p:p}`` (a p-value), ``{x:ratio}`` (×), ``{day:date}``. Numbers are formatted
with Babel for the locale: thousands separators, the currency symbol, and 万/亿 for large Chinese amounts.

Why YAML rather than gettext: analysts add a sentence and its translation side by side in one file,
without a compile step, and a test can check every key has every language.
"""

from __future__ import annotations

import math
import string
import warnings
from functools import lru_cache
from importlib import resources
from numbers import Number

import pandas as pd
import yaml
from babel.dates import format_date
from babel.numbers import format_compact_currency, format_compact_decimal, format_currency, format_decimal

LANGS = ("en", "zh")
LOCALES = {"en": "en_US", "zh": "zh_CN"}
HTML_LANGS = {"en": "en", "zh": "zh-CN"}


def html_lang(lang: str) -> str:
    """The ``<html lang>`` value of a report language (BCP 47): ``en``, ``zh-CN`` (simplified Chinese fonts)."""
    return HTML_LANGS.get(lang, lang)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All messages: ``{"module.key": {"en": ..., "zh": ...}}``, read once from ``ecomlib/messages/*.yaml``."""
    out: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files("ecomlib.messages").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            stem = entry.name[: -len(".yaml")]
            for key, texts in (yaml.safe_load(entry.read_text(encoding="utf-8")) or {}).items():
                out[f"{stem}.{key}"] = texts
    return out


class _Formatter(string.Formatter):
    def __init__(self, messages: "Messages"):
        self.messages = messages

    def format_field(self, value, format_spec):
        kinds = {"pct": self.messages.pct, "money": self.messages.money, "int": self.messages.int,
                 "num": self.messages.num, "pp": self.messages.pp, "p": self.messages.pvalue,
                 "ratio": self.messages.ratio, "date": self.messages.date}
        if format_spec in kinds:
            return kinds[format_spec](value)
        return super().format_field(value, format_spec)


class Messages:
    """Texts and number formats for one language and currency.

    Parameters
    ----------
    lang : ``"en"`` or ``"zh"``.
    currency : ISO 4217 code of the store currency (``store.yaml``).

    Example
    -------
    >>> msg = Messages("zh", currency="CNY")
    >>> msg.money(12345.0)
    '¥1.2万'
    >>> msg("common.period")
    '周期'
    """

    def __init__(self, lang: str = "en", *, currency: str = "USD"):
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {list(LANGS)}, not {lang!r}")
        self.lang, self.currency, self.locale = lang, currency, LOCALES[lang]
        self._formatter = _Formatter(self)

    def __repr__(self) -> str:
        return f"Messages(lang={self.lang!r}, currency={self.currency!r})"

    def text(self, key: str) -> str:
        """The raw template for ``key`` in this language (English, with a warning, where a translation is missing)."""
        try:
            texts = catalogue()[key]
        except KeyError:
            raise KeyError(f"message key {key!r} is not in the catalogue (ecomlib/messages/"
                           f"{key.split('.')[0]}.yaml)") from None
        if self.lang not in texts:
            warnings.warn(f"message {key!r} has no {self.lang!r} text; using English", stacklevel=3)
            return texts["en"]
        return texts[self.lang]

    def __call__(self, key: str, **fields) -> str:
        """The message ``key`` with ``fields`` formatted for the locale."""
        return self._formatter.format(self.text(key), **fields)

    def labels(self, keys: dict[str, str] | list[str], prefix: str = "") -> dict[str, str]:
        """Map column names to display labels: ``labels(["units"], "funnel.col.")`` → ``{"units": "Units"}``."""
        return {k: self(f"{prefix}{k}") for k in keys}

    # Number formats ------------------------------------------------------------------------------
    @staticmethod
    def _missing(x) -> bool:
        return x is None or (isinstance(x, Number) and math.isnan(x)) or x is pd.NaT

    def num(self, x: float, digits: int = 1) -> str:
        """A number with locale separators and ``digits`` decimals (``1,234.5``)."""
        if self._missing(x):
            return "–"
        return format_decimal(x, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=self.locale)

    def int(self, x: float) -> str:
        """A whole number with thousands separators (``12,345``)."""
        return self.num(round(x) if not self._missing(x) else x, 0)

    def compact(self, x: float) -> str:
        """A large number shortened for the locale: ``1.2M`` in English, ``1.2万`` / ``3.4亿`` in Chinese."""
        if self._missing(x):
            return "–"
        return format_compact_decimal(x, locale=self.locale, fraction_digits=1)

    def money(self, x: float, *, compact: bool | None = None) -> str:
        """An amount in the store currency; large amounts are shortened (``¥1.2万``, ``$3.4M``) unless ``compact=False``."""
        if self._missing(x):
            return "–"
        threshold = 10_000 if self.lang == "zh" else 100_000
        if compact is None:
            compact = abs(x) >= threshold
        if compact:
            return format_compact_currency(x, self.currency, locale=self.locale, fraction_digits=1)
        digits = 0 if abs(x) >= 1000 else 2
        return format_currency(x, self.currency, locale=self.locale,
                               format=None if digits else "¤#,##0", currency_digits=bool(digits))

    def pct(self, x: float, digits: int = 1) -> str:
        """A fraction as a percentage (``0.1234`` → ``12.3%``)."""
        if self._missing(x):
            return "–"
        return f"{self.num(100 * x, digits)}%"

    def pp(self, x: float) -> str:
        """A difference of two fractions in percentage points, signed (``-0.123`` → ``-12.3 pp`` / ``-12.3个百分点``)."""
        if self._missing(x):
            return "–"
        points = round(100 * x, 1) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0.0 pp" for a tiny fall
        sign = "+" if points > 0 else ""
        return f"{sign}{self.num(points, 1)}{self.text('common.pp_unit')}"

    def pvalue(self, p: float) -> str:
        """A p-value as a reader wants it: ``p < 0.001`` or ``p = 0.023``."""
        if self._missing(p):
            return "–"
        return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"

    def ratio(self, x: float) -> str:
        """A multiplier such as ROAS or LTV:CAC (``2.35×``)."""
        return "–" if self._missing(x) else f"{self.num(x, 2)}×"

    def date(self, d) -> str:
        """A date in the locale's medium form (``Nov 16, 2026`` / ``2026年11月16日``)."""
        if self._missing(d):
            return "–"
        return format_date(pd.Timestamp(d).date(), format="long" if self.lang == "zh" else "medium", locale=self.locale)

    def format(self, x, kind: str) -> str:
        """Format ``x`` as ``kind`` (``pct``, ``money``, ``int``, ``num``, ``pp``, ``p``, ``ratio``, ``date`` or ``text``)."""
        if kind == "text":
            return "" if self._missing(x) else str(x)
        return self._formatter.format_field(x, kind)
