"""Ads platform reports (Google Ads, Meta Ads Manager) as downloaded from their UIs → contract ``ad_spend``.

Reads CSV ("CSV" or UTF-16 tab-separated "CSV for Excel", with or without a BOM) and XLSX downloads, one
file or a folder of them, with the quirks of real downloads:

- **lines above the header** (Google: the report title, then the date range such as
  ``"November 1, 2026 - November 23, 2026"``): the header is the first line naming a campaign column and a
  cost/spend column; a date-range line above it is read as the reporting range;
- **total rows** (``Total: Account``, ``Total: Campaigns``… — one or several, anywhere) and summary lines
  without a campaign are left out and counted;
- **empty values** ``--``, `` --``, ``-`` and blanks; numbers with thousands separators (``"1,356,884"``) and
  currency signs; percentages and thresholds (``> 90%``) in columns the contract does not read are kept as text;
- **a header that appears twice** (``Currency code``, ``Ad set name``): the first one is read;
- **the currency** in a ``Currency code``/``Currency`` column or inside the spend header (``Amount spent (USD)``);
  it must be one currency and agree with ``--currency`` when that is given (the kit does not convert);
- **dates**: a ``Day`` column (one row per day), or a reporting range (``Reporting starts``/``Reporting ends``
  columns, or the date-range line above a Google header). A range of one day is that day. A range of several
  days cannot be put on a day: the import stops, unless ``spread=True`` spreads each row evenly over its days
  (spend and conversions divided equally, impressions and clicks as whole numbers whose sum is kept) and the
  import report says so. ``All time`` ranges cannot be spread.

Rows are summed to the contract's grain (``date, channel, campaign``): ad group / ad set / ad rows of one
campaign and day become one row (``source_rows`` counts them). The channel is an option (defaults
``paid_search`` for Google Ads and ``paid_social`` for Meta): it must be the value that ``orders.channel``
uses for the same traffic, or the ROAS review cannot match spend with revenue.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _base as b

EMPTY = {"", "--", "-", "—", "n/a", "N/A"}
"""Cell texts that mean "no value" in ads reports (`` --`` with a leading space is stripped first)."""

GOOGLE_FIELDS = {
    "date": ["Day", "Date"],
    "campaign": ["Campaign", "Campaign name"],
    "ad_group": ["Ad group", "Ad group name"],
    "campaign_id": ["Campaign ID"],
    "campaign_type": ["Campaign type"],
    "impressions": ["Impr.", "Impressions", "Impr"],
    "clicks": ["Clicks"],
    "spend": ["Cost"],
    "conversions": ["Conversions", "Conv."],
    "conv_value": ["Conv. value", "Conversion value", "Total conv. value"],
    "currency": ["Currency code", "Currency"],
}
META_FIELDS = {
    "date": ["Day", "Date"],
    "start": ["Reporting starts", "Reporting start"],
    "end": ["Reporting ends", "Reporting end"],
    "campaign": ["Campaign name", "Campaign"],
    "ad_group": ["Ad set name", "Ad Set Name"],
    "ad": ["Ad name"],
    "campaign_id": ["Campaign ID"],
    "impressions": ["Impressions"],
    "clicks": ["Link clicks", "Clicks (all)", "Clicks"],
    "spend": ["Amount spent", "Amount spent (USD)"],     # any "Amount spent (XXX)": see _spend_header
    "conversions": ["Purchases", "Website purchases"],
    "conv_value": ["Purchases conversion value", "Purchase conversion value", "Website purchases conversion value"],
    "currency": ["Currency"],
}
PLATFORMS = {
    "google_ads": ("Google Ads", GOOGLE_FIELDS, "paid_search",
                   "download it in Google Ads → Campaigns (or Ad groups) → Download (⤓) → CSV, with the segment "
                   "Day (Segment → Time → Day) and the columns Campaign, Impr., Clicks, Cost"),
    "meta_ads": ("Meta Ads Manager", META_FIELDS, "paid_social",
                 "export it in Meta Ads Manager → Campaigns (or Ad sets/Ads) → Reports → Export table data "
                 "(.csv or .xlsx), with Breakdown → By time → Day, and the columns Campaign name, Impressions, "
                 "Link clicks, Amount spent"),
}
_SPEND_RE = re.compile(r"^(?:amount spent|cost|spend)\s*\(([A-Za-z]{3})\)$", re.IGNORECASE)
_RANGE_RE = re.compile(r"^\s*\"?(?P<a>[A-Za-z]+\.? \d{1,2}, \d{4}|\d{4}-\d{2}-\d{2})\s*[-–—]\s*"
                       r"(?P<b>[A-Za-z]+\.? \d{1,2}, \d{4}|\d{4}-\d{2}-\d{2})\"?\s*$")
_TOTAL_RE = r"(?i)^total(?::|$|\s*-)"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def _find_header(rows: list[list[str]], fields: Mapping[str, Sequence[str]]) -> int | None:
    """Index of the first row naming a campaign column and an impressions/spend column; None when there is none."""
    campaign = {_norm(a) for a in fields["campaign"]}
    measures = {_norm(a) for k in ("spend", "impressions", "clicks") for a in fields[k]}
    for i, row in enumerate(rows[:50]):
        cells = {_norm(c) for c in row}
        if cells & campaign and (cells & measures or any(_SPEND_RE.match(c.strip()) for c in row)):
            return i
    return None


def _parse_range_line(lines: list[list[str]]) -> tuple[str | None, pd.Timestamp | None, pd.Timestamp | None]:
    """The date-range line above a header: ``(text, start, end)``; ``All time`` gives (text, None, None)."""
    for row in lines:
        text = " ".join(c for c in row if c.strip()).strip()
        if not text:
            continue
        if re.search(r"(?i)\ball time\b", text):
            return text, None, None
        m = _RANGE_RE.match(text)
        if m:
            start, end = (_parse_day_text(m.group(k)) for k in ("a", "b"))
            return text, start, end
    return None, None, None


def _parse_day_text(text: str) -> pd.Timestamp | None:
    for fmt in ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%b. %d, %Y"):
        day = pd.to_datetime(text.strip(), format=fmt, errors="coerce")
        if not pd.isna(day):
            return day
    return None


def _days(raw: pd.DataFrame, field_: str, column: str) -> pd.Series:
    """Day values: ISO / slashed (never guessed) or ``Nov 1, 2026`` month-name dates."""
    text = raw[field_]
    named = text.str.contains(r"[A-Za-z]{3}", na=False)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    if named.any():
        parsed = pd.Series(pd.NaT, index=raw.index[named], dtype="datetime64[us]")
        for fmt in ("%B %d, %Y", "%b %d, %Y", "%a, %b %d, %Y", "%d %b %Y", "%d-%b-%y", "%d-%b-%Y"):
            parsed = parsed.fillna(pd.to_datetime(text[named], format=fmt, errors="coerce"))
        b.fail(raw[named], parsed.isna(), text[named], column, "are not dates",
               "use the report's own date column without editing it")
        out[named] = parsed
    if (~named & text.notna()).any():
        out[~named] = b.parse_dates(raw[~named], field_, column=column)
    return out.dt.normalize()


def _numbers(raw: pd.DataFrame, field_: str, column: str, *, integer: bool = False) -> pd.Series:
    text = raw[field_].str.strip()
    text = text.mask(text.isin(EMPTY))
    return b.parse_numbers(raw.assign(**{field_: text}), field_, column=column, integer=integer)


def _read(files: list[Path], platform: str, sheet: str | None) -> tuple[pd.DataFrame, list[str], dict]:
    """Every report file as one frame of logical fields (text), plus notes and facts found above the headers."""
    name, fields, _, fix = PLATFORMS[platform]
    frames, notes, facts = [], [], {"ranges": {}, "header_currency": {}, "codecs": {}, "headers": {}}
    for path in files:
        rows, codec, sep = b.read_rows(path, sheet=sheet)
        at = _find_header(rows, fields)
        if at is None:
            found = next((r for r in rows if any(c.strip() for c in r)), [])
            raise b.ExportFormatError(str(path), f"no header with a campaign column and a cost/spend or impressions "
                                                 f"column in the first 50 lines (is this a {name} report?). First "
                                                 f"line: {', '.join(c for c in found[:8] if c)!r}",
                                      fix=fix)
        facts["codecs"][str(path)] = f"{codec}{', tab-separated' if sep == chr(9) else ''}"
        range_text, start, end = _parse_range_line(rows[:at])
        if range_text is not None:
            facts["ranges"][str(path)] = (range_text, start, end)
        header = b.dedupe_headers(rows[at])
        dupes = sorted({h.rsplit(".", 1)[0] for h in header if re.search(r"\.\d+$", h)
                        and h.rsplit(".", 1)[0] in header})
        if dupes:
            notes.append(f"{path.name}: header(s) {', '.join(map(repr, dupes))} appear more than once; the first "
                         f"of each is read.")
        body = [r + [""] * (len(header) - len(r)) for r in rows[at + 1:] if any(c.strip() for c in r)]
        if not body:
            raise b.ExportFormatError(str(path), "has a header but no data rows",
                                      fix="download a date range that has spend")
        df = pd.DataFrame([r[:len(header)] for r in body], columns=header, dtype=str)
        spend_header = next((h for h in header if _SPEND_RE.match(h)), None)
        aliases = {k: list(v) for k, v in fields.items()}
        if spend_header:
            aliases["spend"] = [spend_header] + aliases["spend"]
            facts["header_currency"][str(path)] = _SPEND_RE.match(spend_header).group(1).upper()
        cells = {}
        for col in df.columns:
            s = df[col].str.strip()
            cells[col] = s.mask(s == "")
        df = pd.DataFrame(cells)
        df["_file"], df["_row"] = str(path), np.arange(1, len(df) + 1)
        optional = set(fields) - {"campaign", "spend", "impressions", "clicks"}
        resolved = b.resolve_columns(df, aliases, path=path, what=f"a {name} report needs it", fix=fix,
                                     optional=optional)
        resolved["_first"] = df.iloc[:, 0]       # where "Total: Account" stands, whatever that column is
        present = {_norm(c): c for c in df.columns}
        for key, names in aliases.items():          # the export's own header names, for messages
            hit = next((present[_norm(a)] for a in names if _norm(a) in present), None)
            if hit is not None:
                facts["headers"].setdefault(key, hit)
        frames.append(resolved)
    return pd.concat(frames, ignore_index=True), notes, facts


def _spread_days(df: pd.DataFrame) -> pd.DataFrame:
    """One row per day of each row's [start, end]: spend/conversions/value divided evenly, counts kept whole."""
    days = ((df["end"] - df["start"]).dt.days + 1).astype("int64").to_numpy()
    rep = df.loc[df.index.repeat(days)].copy()
    offset = rep.groupby(level=0).cumcount().to_numpy()
    rep["date"] = rep["start"] + pd.to_timedelta(offset, unit="D")
    n = np.repeat(days, days)
    for col in ("spend", "conversions", "conv_value"):
        rep[col] = rep[col] / n
    for col in ("impressions", "clicks"):
        total = rep[col].to_numpy()
        whole = np.floor(total / n)
        remainder = np.round(total - whole * n)
        rep[col] = whole + (offset < remainder)        # the first `remainder` days get one more
    return rep.reset_index(drop=True)


def _import_ads(platform: str, source, *, store, channel, spread, sheet) -> b.Converted:
    name, _, default_channel, fix = PLATFORMS[platform]
    files = b.source_files(source, pattern=None)
    raw, notes, facts = _read(files, platform, sheet)

    # Total rows ("Total: Account"…) and lines without a campaign are summaries, not spend to count twice.
    total = (raw["_first"].str.contains(_TOTAL_RE, na=False) | raw["date"].str.contains(_TOTAL_RE, na=False)
             | raw["campaign"].str.contains(_TOTAL_RE, na=False))
    no_campaign = raw["campaign"].isna() | raw["campaign"].str.strip().isin(EMPTY)
    summary = total | no_campaign
    dropped = pd.DataFrame({"file": raw["_file"], "row": raw["_row"],
                            "reason": np.where(total, "total row", "no campaign (summary line)"),
                            "campaign": raw["campaign"]})[summary]
    if total.any():
        notes.append(f"{int(total.sum()):,} total row(s) ('Total: …') left out: they repeat the rows above them.")
    if (no_campaign & ~total).any():
        notes.append(f"{int((no_campaign & ~total).sum()):,} line(s) without a campaign left out (summary lines).")
    raw = raw[~summary]
    # A row repeated field for field (same day, campaign, ad group and numbers) is a repeated export row:
    # summing it would count its spend twice.
    repeated = raw.drop(columns=["_file", "_row", "_first"]).duplicated(keep="first")
    if repeated.any():
        notes.append(f"{int(repeated.sum()):,} row(s) repeat an earlier row field for field (duplicate export "
                     f"rows) and were left out; their spend: {_numbers(raw[repeated], 'spend', 'spend').sum():,.2f}.")
        dropped = pd.concat([dropped, pd.DataFrame({"file": raw["_file"], "row": raw["_row"],
                                                    "reason": "duplicate export row",
                                                    "campaign": raw["campaign"]})[repeated]])
        raw = raw[~repeated]
    if raw.empty:
        raise b.ExportFormatError(", ".join(str(f) for f in files[:3]),
                                  "has only total or summary rows, no campaign rows", column="Campaign", fix=fix)

    # Currency: a column, or the spend header's "(USD)"; one currency, agreeing with --currency.
    found = set(raw["currency"].dropna().str.upper().str.strip()) - EMPTY
    found |= set(facts["header_currency"].values())
    if len(found) > 1:
        raise b.ExportFormatError(b.files_of(raw, raw["currency"].notna()) if raw["currency"].notna().any()
                                  else ", ".join(Path(f).name for f in facts["header_currency"]),
                                  f"amounts in several currencies ({', '.join(sorted(found))})",
                                  column="Currency", fix="download each ad account's report separately (a dataset "
                                                         "has one store currency; the kit does not convert)")
    meta = b.resolve_store(store, currency=next(iter(found)) if found else None,
                           currency_hint=f", the currency of the {name} account")
    if not found:
        notes.append(f"the report does not say its currency: amounts taken to be {meta['currency']} (--currency).")

    header = facts["headers"]
    impressions = _numbers(raw, "impressions", header["impressions"], integer=True)
    clicks = _numbers(raw, "clicks", header["clicks"], integer=True)
    spend = _numbers(raw, "spend", header["spend"])
    conversions = _numbers(raw, "conversions", header.get("conversions", "Conversions"))
    value = _numbers(raw, "conv_value", header.get("conv_value", "Conversion value"))
    for series, col in [(spend, "spend"), (impressions, "impressions"), (clicks, "clicks")]:
        b.fail(raw, series < 0, raw["campaign"], header[col], "have a negative value",
               "use the report as downloaded (refunds and credits are not ad spend)")
    df = pd.DataFrame({"campaign": raw["campaign"], "impressions": impressions.fillna(0),
                       "clicks": clicks.fillna(0), "spend": spend.fillna(0.0), "conversions": conversions,
                       "conv_value": value, "ad_group": raw["ad_group"], "_file": raw["_file"],
                       "_row": raw["_row"]}, index=raw.index)
    if "campaign_id" in raw:
        df["campaign_id"] = raw["campaign_id"]

    # Dates: a Day column, else a reporting range (columns, or the date-range line above the header).
    has_day = raw["date"].notna()
    df["date"] = _days(raw, "date", header.get("date", "Day")) if has_day.any() else pd.NaT
    start = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    end = start.copy()
    range_label = (f"{header['start']}/{header['end']}" if "start" in header
                   else "the date-range line above the header")
    if "start" in raw and raw["start"].notna().any():
        start, end = _days(raw, "start", header["start"]), _days(raw, "end", header["end"])
    for path, (text, a, z) in facts["ranges"].items():
        mine = (raw["_file"] == path) & start.isna()
        if a is None:
            if (mine & ~has_day).any():
                raise b.ExportFormatError(path, f"the report covers {text!r} with no per-day rows: there is no date "
                                                f"to put its spend on", column="Day",
                                          fix=f"{fix}; or download a fixed date range and pass --option spread=true")
            continue
        start, end = start.mask(mine, a), end.mask(mine, z)
    undated = df["date"].isna() & start.isna()
    b.fail(raw, undated, raw["campaign"], header.get("date", "Day"), "have no date (no Day column, no reporting "
           "range)", fix)
    use_range = df["date"].isna()
    df["start"], df["end"] = start.where(use_range), end.where(use_range)
    one_day = use_range & (df["start"] == df["end"])
    df.loc[one_day, "date"] = df.loc[one_day, "start"]
    several = use_range & (df["end"] > df["start"])
    b.fail(raw, use_range & (df["end"] < df["start"]), raw["campaign"], range_label,
           "end before they start", "use the report as downloaded")
    if several.any():
        n_days = ((df.loc[several, "end"] - df.loc[several, "start"]).dt.days + 1)
        if not spread:
            first = df.loc[several].iloc[0]
            raise b.ExportFormatError(
                b.files_of(raw, several),
                f"{int(several.sum()):,} rows cover several days (e.g. {first['start']:%Y-%m-%d} to "
                f"{first['end']:%Y-%m-%d}, {int(n_days.iloc[0])} days), but ad_spend has one row per day and the "
                f"daily curves need real days", column=range_label,
                examples=b.examples(raw, several, raw["campaign"]),
                fix=f"{fix}; or pass --option spread=true to spread each row evenly over its days (an assumption "
                    f"the import report states)")
        spreadable = df[several]
        df = pd.concat([df[~several], _spread_days(spreadable)], ignore_index=True)
        notes.append(f"ASSUMPTION (--option spread=true): {int(several.sum()):,} rows covering {int(n_days.min())}–"
                     f"{int(n_days.max())} days were spread evenly over their days ({int(n_days.sum()):,} day rows): "
                     f"daily spend, clicks and conversions are averages, not what happened each day; daily curves "
                     f"and pacing built on them are flat by construction.")
    elif spread:
        notes.append("--option spread=true had nothing to do: every row is one day.")

    grain = ["date", "campaign"]
    agg = {"impressions": ("impressions", "sum"), "clicks": ("clicks", "sum"), "spend": ("spend", "sum"),
           "platform_conversions": ("conversions", lambda s: s.sum(min_count=1)),
           "platform_revenue": ("conv_value", lambda s: s.sum(min_count=1)),
           "ad_groups": ("ad_group", "nunique"), "source_rows": ("spend", "size")}
    if "campaign_id" in df:
        agg["campaign_id"] = ("campaign_id", "first")
    out = df.groupby(grain, sort=True, observed=True).agg(**agg).reset_index()
    if raw["ad_group"].isna().all():
        out = out.drop(columns="ad_groups")
    if "campaign_id" in out and out["campaign_id"].isna().all():
        out = out.drop(columns="campaign_id")
    merged = len(df) - len(out)
    if merged:
        notes.append(f"{merged:,} rows summed into their (day, campaign): ad group / ad set / ad rows, or repeated "
                     f"rows, become one ad_spend row per day and campaign.")
    out = out.assign(channel=channel or default_channel,
                     impressions=out["impressions"].round().astype("int64"),
                     clicks=out["clicks"].round().astype("int64"),
                     spend=out["spend"].round(6))
    if channel is None:
        notes.append(f"channel = {default_channel!r} for every row (the default for {name}); pass "
                     f"--option channel=NAME with the value orders.channel uses for this traffic.")
    for path, codec in facts["codecs"].items():
        notes.append(f"{Path(path).name}: read as {codec}.")
    out = out[["date", "channel", "campaign", "impressions", "clicks", "spend", "platform_conversions",
               "platform_revenue", *[c for c in ("campaign_id", "ad_groups", "source_rows") if c in out]]]
    return b.Converted(tables={"ad_spend": out}, store=meta, notes=notes, sources=files,
                       dropped=dropped.reset_index(drop=True))


def import_google_ads(source: str | Path, *, store: dict | None = None, channel: str | None = None,
                      spread: bool = False, sheet: str | None = None) -> b.Converted:
    """Convert a Google Ads campaign / ad group report (CSV, UTF-16 "CSV for Excel" or XLSX) to ``ad_spend``.

    Parameters
    ----------
    source : the downloaded report, or a folder of them (``*.csv``, ``*.xlsx``).
    store : store facts; the currency comes from ``Currency code`` (``--currency`` must agree) or is required.
    channel : ``ad_spend.channel`` (default ``paid_search``): the value ``orders.channel`` uses for this traffic.
    spread : spread a row that covers several days evenly over them (else such a report is refused).
    sheet : the XLSX sheet to read (default the first).

    Returns
    -------
    Converted with ``ad_spend``: one row per (date, channel, campaign); extra ``ad_groups`` (distinct ad groups
    summed), ``source_rows``, ``campaign_id`` when the report has it.

    Example
    -------
    >>> conv = import_google_ads("Campaign report.csv", store={"currency": "USD"})     # doctest: +SKIP
    """
    return _import_ads("google_ads", source, store=store, channel=channel, spread=_flag(spread, "spread"),
                       sheet=sheet)


def import_meta_ads(source: str | Path, *, store: dict | None = None, channel: str | None = None,
                    spread: bool = False, sheet: str | None = None) -> b.Converted:
    """Convert a Meta Ads Manager export (campaigns, ad sets or ads; CSV or XLSX) to ``ad_spend``.

    Parameters
    ----------
    source : the exported table, or a folder of them.
    store : store facts; the currency comes from ``Amount spent (XXX)`` or a ``Currency`` column.
    channel : ``ad_spend.channel`` (default ``paid_social``).
    spread : spread rows whose Reporting starts/ends cover several days evenly over them (else refused).
    sheet : the XLSX sheet to read (default the first).

    Returns
    -------
    Converted with ``ad_spend`` (as :func:`import_google_ads`; ``ad_groups`` counts ad sets).

    Example
    -------
    >>> conv = import_meta_ads("Campaigns-Nov-1-2026-Nov-23-2026.csv", store={"currency": "USD"})  # doctest: +SKIP
    """
    return _import_ads("meta_ads", source, store=store, channel=channel, spread=_flag(spread, "spread"),
                       sheet=sheet)


def _flag(value, name: str) -> bool:
    """A yes/no option from Python or a command line (``true``/``false``, ``yes``/``no``, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", "", "none"):
        return False
    raise b.ImportOptionError(name, f"--option {name}={value}: expected true or false.", valid=["true", "false"])
