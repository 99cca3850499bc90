"""Report helpers for notebooks: headline numbers the runner reads back, formatted tables, generated conclusions.

``record_headlines`` is the one call a notebook makes to publish its headline numbers: it shows them as a
table and emits a machine-readable display bundle (mimetype ``application/vnd.ecomlib.headlines+json``)
that the runner finds in the executed notebook. (scrapbook did this, but is unmaintained.)
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from typing import Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from .i18n import Messages
from .review import json_value

MIMETYPE = "application/vnd.ecomlib.headlines+json"
UNITS = ("ratio", "money", "count", "number", "days", "multiple")
_UNIT_FORMAT = {"ratio": "pct", "money": "money", "count": "int", "number": "num", "days": "num", "multiple": "ratio"}


@dataclass(frozen=True)
class Headline:
    """One headline number of a review.

    key : stable identifier (``conversion_rate``); label : display text in the run's language;
    value / previous : this period and the comparison period (None when unknown);
    unit : one of ``ratio`` (a fraction), ``money`` (store currency), ``count``, ``number``, ``days``, ``multiple``;
    good : ``"up"`` when a rise is good news, ``"down"`` when a fall is, ``None`` when neither.
    source : the function that computed the value (``"ecomlib.returns.return_rates"``), so a reader goes from
        the number to its code in one hop; shown in ``summary.json``.
    """

    key: str
    label: str
    value: float | None
    unit: str = "number"
    previous: float | None = None
    good: Literal["up", "down"] | None = "up"
    source: str | None = None

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {list(UNITS)}, not {self.unit!r}")
        if self.good not in ("up", "down", None):
            raise ValueError(f"good must be 'up', 'down' or None, not {self.good!r}")

    def to_json(self) -> dict:
        return {k: json_value(v) for k, v in asdict(self).items()}



def format_value(value, unit: str, msg: Messages) -> str:
    """A headline value as people read it (``12.3%``, ``¥1.2万``, ``1,234``)."""
    return msg.format(value, _UNIT_FORMAT[unit])


def format_change(value, previous, unit: str, msg: Messages) -> str:
    """The change from ``previous`` to ``value``: percentage points for ratios, a relative % otherwise."""
    if value is None or previous is None or (isinstance(previous, float) and np.isnan(previous)):
        return "–"
    if unit == "ratio":
        return msg.pp(value - previous)
    if previous == 0:
        return "–"
    rel = round(value / previous - 1, 3) + 0.0  # as shown, so a tiny fall reads 0.0%, not -0.0%
    return ("+" if rel > 0 else "") + msg.pct(rel)


def headline_frame(headlines: Iterable[Headline | Mapping], msg: Messages) -> pd.DataFrame:
    """Headlines as a display table: metric, value, previous, change (formatted strings, translated headers)."""
    rows = [h if isinstance(h, Headline) else Headline(**h) for h in headlines]
    return pd.DataFrame({
        msg("common.metric"): [h.label for h in rows],
        msg("common.value"): [format_value(h.value, h.unit, msg) for h in rows],
        msg("common.previous"): [format_value(h.previous, h.unit, msg) for h in rows],
        msg("common.change"): [format_change(h.value, h.previous, h.unit, msg) for h in rows],
    })


def record_headlines(headlines: Iterable[Headline], msg: Messages, findings: Iterable = ()) -> None:
    """Show the headline numbers and publish them, with the review's findings, for the review runner.

    One call per notebook. ``findings`` are :class:`ecomlib.review.Finding` records; they are not shown here
    (the page shows them through :func:`conclusions`) but travel to ``summary.json`` and the index.

    Example
    -------
    >>> record_headlines([Headline("orders", "Orders", 1234, "count", previous=1100)], Messages("en"))  # doctest: +SKIP
    """
    from IPython.display import display

    from .review import scan_report

    rows = list(headlines)
    payload = {"headlines": [h.to_json() for h in rows], "findings": [f.to_json() for f in findings],
               "scan": scan_report()}
    json.dumps(payload)  # fail here, in the notebook, if a value is not JSON-serialisable
    display(styled(headline_frame(rows, msg)))
    display({MIMETYPE: payload}, raw=True)


def _payloads(notebook) -> Iterable[dict]:
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIMETYPE in data:
                payload = data[MIMETYPE]
                yield json.loads(payload) if isinstance(payload, str) else payload


def read_scan(notebook) -> dict | None:
    """The engine and rows read that a notebook recorded with its headlines (:func:`ecomlib.review.scan_report`)."""
    for payload in _payloads(notebook):
        if payload.get("scan"):
            return payload["scan"]
    return None


def read_headlines(notebook) -> list[dict]:
    """The headlines a notebook recorded, read from its executed outputs (``nbformat`` node or dict)."""
    return [h for payload in _payloads(notebook) for h in payload.get("headlines", [])]


def read_findings(notebook) -> list[dict]:
    """The findings a notebook recorded (JSON dicts of :class:`ecomlib.review.Finding`)."""
    return [f for payload in _payloads(notebook) for f in payload.get("findings", [])]


# Escaping ------------------------------------------------------------------------------------------------
# Data strings (product names, campaign names, return comments) reach the page through tables, captions,
# Markdown and sentences. Every one of those boundaries escapes, so text from data is shown, never run.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def escape_html(text) -> str:
    """``text`` with ``& < > " '`` replaced by entities: safe inside HTML elements and attributes."""
    return html.escape("" if text is None else str(text), quote=True)


def escape_markdown(text) -> str:
    r"""A data string made inert inside Markdown: HTML escaped and Markdown syntax backslash-escaped.

    Use it for data values placed into Markdown the kit writes (a store name in a heading); whole sentences
    built by the kit go through :func:`safe_markdown`, which keeps the kit's own emphasis.

    >>> escape_markdown("<img src=x onerror=alert(1)> [click](javascript:alert(1))")
    '&lt;img src=x onerror=alert\\(1\\)&gt; \\[click\\]\\(javascript:alert\\(1\\)\\)'
    """
    return _MD_SPECIAL.sub(r"\\\1", escape_html(text))


def safe_markdown(text: str) -> str:
    r"""Kit-written Markdown (headings, ``**bold**``, lists) made safe to render when it embeds data strings.

    Raw HTML is escaped (``<script>`` is shown, not run) and link syntax is broken up, so a data string
    cannot become a tag, an attribute or a ``javascript:`` link; the kit's emphasis and lists still render.

    >>> safe_markdown("**SKU <b>1</b>** returns [x](javascript:alert(1))")
    '**SKU &lt;b&gt;1&lt;/b&gt;** returns \\[x\\](javascript:alert(1))'
    """
    return re.sub(r"([\[\]])", r"\\\1", html.escape(str(text), quote=False))


def note(text: str) -> None:
    """Show a paragraph (or heading) of kit-written Markdown that may embed data strings, safely."""
    from IPython.display import Markdown, display

    display(Markdown(safe_markdown(text)))


def styled(df: pd.DataFrame, msg: Messages | None = None, *, formats: Mapping[str, str] | None = None,
           labels: Mapping[str, str] | None = None, caption: str | None = None):
    """A table ready to show: values formatted per column for the locale, headers translated, no index.

    formats : column → ``pct``, ``money``, ``int``, ``num``, ``pp``, ``p``, ``ratio``, ``date`` or ``text``.
    labels : column → display header (e.g. from ``msg.labels``).
    """
    formatters = {}
    if formats:
        if msg is None:
            raise ValueError("formats need a Messages object for the locale")
        unknown = set(formats) - set(df.columns)
        if unknown:
            raise KeyError(f"formats name columns not in the table: {sorted(unknown)}; columns are {list(df.columns)}")
        formatters = {col: (lambda x, kind=kind: msg.format(x, kind)) for col, kind in formats.items()}
    # escape="html" escapes every string cell before formatting; headers and the caption are escaped here
    styler = df.style.format(formatters, na_rep="–", escape="html").hide(axis="index")
    styler = styler.relabel_index([escape_html((labels or {}).get(c, c)) for c in df.columns], axis="columns")
    if caption:
        styler = styler.set_caption(escape_html(caption))
    return styler


def conclusions(sentences: Iterable[str], msg: Messages) -> None:
    """Show the conclusions, written from the numbers by the review module, as a Markdown list."""
    from IPython.display import Markdown, display

    items = [safe_markdown(s) for s in sentences if s]
    body = "\n".join(f"- {s}" for s in items) if items else f"- {msg('common.no_data')}"
    display(Markdown(f"### {msg('common.conclusions')}\n\n{body}"))


def title(review_key: str, msg: Messages, *, store: str, period, comparison=None, data_range: tuple | None = None) -> None:
    """Show the page heading: review name, period, comparison, store and the data's date range."""
    from IPython.display import Markdown, display

    lines = [f"# {msg(review_key)}", "",
             f"**{msg('common.store')}:** {escape_markdown(store)} · **{msg('common.period')}:** {period_text(period, msg)}"]
    if comparison is not None:
        lines[-1] += f" · **{msg('common.comparison')}:** {period_text(comparison, msg)}"
    if data_range is not None:
        lines.append(f"\n**{msg('common.data_range')}:** {msg.date(data_range[0])} – {msg.date(data_range[1])}")
    display(Markdown("\n".join(lines)))


def period_text(period, msg: Messages) -> str:
    """A period as people read it: ``Week 47 of 2026 (Nov 16 – Nov 22, 2026)`` / ``2026 年第 47 周（…）``."""
    if period.kind == "week":
        iso = period.start.isocalendar()
        return msg("common.week_label", week=iso.week, year=iso.year, start=msg.date(period.start),
                   end=msg.date(period.last_day))
    if period.kind == "month":
        from babel.dates import format_date
        return format_date(period.start.date(), format="yyyy-MM" if msg.lang == "zh" else "MMMM yyyy",
                           locale=msg.locale)
    return msg("common.range_label", start=msg.date(period.start), end=msg.date(period.last_day))


def gap(result, section: str, msg: Messages) -> bool:
    """Show, in one plain sentence, why ``section`` of a review result could not be computed; True if it could not.

    Notebooks guard a section's figures and tables with it::

        if not el.gap(now, "curves", msg):
            ads.plot_response(now.curves, ax=ax)
    """
    if result.has(section):
        return False
    note(f"*{result.gaps[section].text(msg)}*")
    return True


# Data vocabulary -------------------------------------------------------------------------------------------
VOCAB_COLUMNS = {"channel": "channel", "acquisition_channel": "channel", "device": "device", "status": "status",
                 "customer_type": "customer_type"}


def vocab(kind: str, value, msg: Messages) -> str:
    """A contract code in the run's language (``vocab("channel", "paid_search", zh)`` → ``付费搜索``); a value the
    vocabulary does not know (a shop's own channel name) is returned as it is.

    >>> vocab("channel", "paid_search", Messages("zh")), vocab("channel", "tiktok_cn", Messages("zh"))
    ('付费搜索', 'tiktok_cn')
    """
    from .i18n import catalogue

    key = f"vocab.{kind}.{value}"
    return msg(key) if key in catalogue() else ("" if value is None else str(value))


def label_values(data: pd.DataFrame, msg: Messages, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy whose code columns (channel, device, status, customer type) show the run's language; others unchanged.

    columns : column → vocabulary kind; default :data:`VOCAB_COLUMNS` (every such column present is translated).

    >>> label_values(pd.DataFrame({"channel": ["email", "shop_x"], "n": [1, 2]}), Messages("zh"))["channel"].tolist()
    ['邮件', 'shop_x']
    """
    out = data.copy()
    for col, kind in (columns or VOCAB_COLUMNS).items():
        if col in out:
            values = out[col].astype("object")
            out[col] = values.map(lambda v, kind=kind: vocab(kind, v, msg) if isinstance(v, str) else v)
    return out


def group_tail(data: pd.DataFrame, *, by: str, value: str, top: int = 12, msg: Messages | None = None,
               sum_columns: list[str] | None = None) -> pd.DataFrame:
    """Keep the ``top`` groups by ``value`` and fold the rest into one row "Other (N)", for charts and tables.

    A store with 3,000 channel values must not draw 3,000 bars: the long tail becomes one row whose additive
    columns (``sum_columns``, default: every numeric column) are summed; ratios must be recomputed by the caller.

    >>> t = pd.DataFrame({"channel": list("abcd"), "spend": [10.0, 5.0, 1.0, 1.0]})
    >>> group_tail(t, by="channel", value="spend", top=2)["channel"].tolist()
    ['a', 'b', 'Other (2)']
    """
    if len(data) <= top + 1:
        return data
    ordered = data.sort_values(value, ascending=False)
    head, tail = ordered.iloc[:top], ordered.iloc[top:]
    numeric = sum_columns if sum_columns is not None else list(tail.select_dtypes("number").columns)
    label = (msg or Messages("en"))("vocab.other_n", n=len(tail))
    other = pd.DataFrame([{by: label, **{c: tail[c].sum() for c in numeric}}])
    return pd.concat([head.astype({by: "object"}), other], ignore_index=True)
