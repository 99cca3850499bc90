"""GA4 BigQuery export (``events_YYYYMMDD``) → contract ``events``, streamed file by file and batch by batch.

Reads newline-delimited JSON (``bq extract --destination_format NEWLINE_DELIMITED_JSON``), one JSON array
(the BigQuery console's "Save results → JSON", in which INT64 values such as ``event_timestamp`` and
``int_value`` are strings) and Parquet (``bq extract --destination_format PARQUET``: nested lists of structs),
one file or a folder of daily files (``.json``, ``.ndjson``, ``.jsonl``, ``.parquet``; ``.gz`` JSON too).

A month of a busy shop does not fit in pandas at once: every file is read in Arrow record batches and the
events CSV is written batch by batch. Two passes: the first finds each session's traffic source (a session
may cross a daily file at midnight), the second writes the events.

=====================  ==========================================================================================
contract               from
=====================  ==========================================================================================
``event_time``         ``event_timestamp`` (µs since the epoch, UTC) in the store time zone (``--timezone``)
``user_id``            ``user_pseudo_id`` (the device/browser id; the login ``user_id`` is the extra ``login_id``)
``session_id``         ``user_pseudo_id`` + ``.`` + the ``ga_session_id`` event parameter (sessions are per user)
``event_name``         ``event_name`` as exported (``view_item``, ``add_to_cart``, ``purchase``…)
``sku``                ``items[0].item_id`` (the first item; ``n_items`` counts them)
``channel``            the session's channel, see :func:`default_channel`
``device``             ``device.category`` (desktop, mobile, tablet; others such as smart tv → empty, counted)
extra                  ``transaction_id`` (``ecommerce.transaction_id``, to reconcile purchases with orders),
                       ``purchase_revenue``, ``n_items``, ``login_id``, ``source``, ``medium``, ``campaign``
=====================  ==========================================================================================

Events without a ``ga_session_id`` parameter cannot be put in a session and are left out (counted).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..csvout import TIME_FORMAT, neutralise_formulas
from . import _base as b

PATTERNS = ("*.json", "*.ndjson", "*.jsonl", "*.json.gz", "*.ndjson.gz", "*.parquet")
SEARCH_ENGINES = ("google", "bing", "baidu", "yahoo", "duckduckgo", "yandex", "ecosia", "naver", "sogou", "360",
                  "so.com", "sm.cn", "seznam", "qwant", "ask")
SOCIAL_SITES = ("facebook", "fb", "instagram", "ig", "meta", "tiktok", "douyin", "twitter", "x.com", "t.co",
                "linkedin", "lnkd.in", "pinterest", "reddit", "weibo", "wechat", "weixin", "xiaohongshu", "youtube",
                "snapchat", "line", "kakao", "vk")
VIDEO_SITES = ("youtube", "vimeo", "bilibili", "youku", "twitch", "dailymotion")
DEVICES = ("desktop", "mobile", "tablet")


def default_channel(source: pd.Series, medium: pd.Series, *, gclid: pd.Series | None = None) -> pd.Series:
    """Channel of a session from its source / medium — GA4's default channel grouping, simplified.

    Rules, first match wins (case-insensitive; "contains" means the source contains a listed site name):

    1. a Google Ads click id (``gclid``) → ``paid_search``;
    2. source ``(direct)`` with medium ``(none)``/``(not set)``/empty, or no source at all → ``direct``;
    3. medium ``cpc``/``ppc``/``paidsearch``/``paid_search``/``paid`` or matching ``^(.*cp.*|ppc|retargeting|
       paid.*)$``: a social source → ``paid_social``, a search engine → ``paid_search``, else ``display`` when
       the medium is ``display``/``cpm``/``banner``, else ``paid_search``;
    4. medium ``display``/``cpm``/``banner``/``interstitial`` → ``display``;
    5. medium ``email``/``e-mail``/``e_mail``/``newsletter`` or source containing ``mail`` → ``email``;
    6. medium ``affiliate``/``affiliates`` → ``affiliate``;
    7. a video site (youtube, vimeo, bilibili…) or medium containing ``video`` → ``video``;
    8. medium ``social``/``social-network``/``social-media``/``sm`` or a social site → ``social``;
    9. medium ``organic`` or a search-engine source → ``organic``;
    10. medium ``referral`` → ``referral``; anything else → ``other``.

    The names follow the kit's demo store (``organic``, ``paid_search``, ``paid_social``, ``email``, ``direct``,
    ``display``, ``affiliate``, ``video``) so funnel and ROAS channels line up with ``orders.channel``.

    Example
    -------
    >>> default_channel(pd.Series(["google", "(direct)", "facebook", "newsletter"]),
    ...                 pd.Series(["cpc", "(none)", "paid", "email"])).tolist()
    ['paid_search', 'direct', 'paid_social', 'email']
    """
    src = source.fillna("").astype(str).str.strip().str.lower()
    med = medium.fillna("").astype(str).str.strip().str.lower()

    def has(names: tuple[str, ...]) -> pd.Series:
        return src.str.contains("|".join(re.escape(n) for n in names), regex=True)

    social, search, video = has(SOCIAL_SITES), has(SEARCH_ENGINES), has(VIDEO_SITES)
    paid = med.str.fullmatch(r"cpc|ppc|paidsearch|paid_search|paid|.*cp.*|retargeting|paid.*")
    display = med.isin(["display", "cpm", "banner", "interstitial"])
    click = gclid.notna() if gclid is not None else pd.Series(False, index=src.index)
    direct = (src.isin(["(direct)", ""]) & med.isin(["(none)", "(not set)", ""]))
    conditions = [
        click.to_numpy(), direct.to_numpy(),
        (paid & social).to_numpy(), (paid & search).to_numpy(), (paid & display).to_numpy(), paid.to_numpy(),
        display.to_numpy(),
        (med.isin(["email", "e-mail", "e_mail", "newsletter"]) | src.str.contains("mail")).to_numpy(),
        med.isin(["affiliate", "affiliates"]).to_numpy(),
        (video | med.str.contains("video")).to_numpy(),
        (med.isin(["social", "social-network", "social-media", "sm", "social network", "social media"])
         | social).to_numpy(),
        (med.eq("organic") | search).to_numpy(),
        med.eq("referral").to_numpy(),
    ]
    choices = ["paid_search", "direct", "paid_social", "paid_search", "display", "paid_search", "display", "email",
               "affiliate", "video", "social", "organic", "referral"]
    return pd.Series(np.select(conditions, choices, "other"), index=source.index)


# --------------------------------------------------------------------------------------------------- reading
def _files(source: str | Path) -> list[Path]:
    path = Path(source)
    if path.is_file():
        return [path]
    files = b.source_files(path, pattern=PATTERNS)
    return files


def _opened(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _batches(path: Path, batch_size: int) -> Iterator[pa.Table]:
    """The file's events as Arrow tables of about ``batch_size`` rows."""
    fix = ("extract the GA4 events_* table with `bq extract --destination_format NEWLINE_DELIMITED_JSON` (or "
           "PARQUET), or save a query result as JSON from the BigQuery console")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise b.ExportFormatError(str(path), f"not a readable Parquet file ({exc})", fix=fix) from None
        for batch in pf.iter_batches(batch_size=batch_size):
            yield pa.Table.from_batches([batch])
        return
    data = _opened(path)
    head = data.lstrip()[:1]
    if head == b"[":                     # the console's JSON: one array
        try:
            rows = json.loads(data.decode("utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise b.ExportFormatError(str(path), f"not valid JSON ({exc})", fix=fix) from None
        for start in range(0, len(rows), batch_size):
            yield _from_pylist(path, rows[start:start + batch_size], fix)
        return
    if head != b"{":
        raise b.ExportFormatError(str(path), "is neither newline-delimited JSON nor a JSON array of events",
                                  fix=fix)
    import pyarrow.json as pj
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=1 << 26))
    except pa.ArrowInvalid:              # types that change within the file: parse line by line instead
        lines = data.decode("utf-8-sig").splitlines()
        for start in range(0, len(lines), batch_size):
            chunk = [ln for ln in lines[start:start + batch_size] if ln.strip()]
            try:
                rows = [json.loads(ln) for ln in chunk]
            except json.JSONDecodeError as exc:
                raise b.ExportFormatError(str(path), f"line {start + 1 + exc.lineno - 1:,} is not valid JSON "
                                                     f"({exc.msg})", fix=fix) from None
            yield _from_pylist(path, rows, fix)
        return
    for offset in range(0, table.num_rows, batch_size):
        yield table.slice(offset, batch_size)


def _from_pylist(path: Path, rows: list, fix: str) -> pa.Table:
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # INT64 written as text in some rows and as numbers in others: read every leaf as text
        return pa.Table.from_pylist(json.loads(json.dumps(rows), parse_int=str, parse_float=str))


def _field(table: pa.Table, dotted: str) -> pa.Array | None:
    """A (nested) column as one Arrow array, or None when the export does not have it."""
    head, *rest = dotted.split(".")
    if head not in table.column_names:
        return None
    arr = table.column(head).combine_chunks()
    for name in rest:
        if not pa.types.is_struct(arr.type) or arr.type.get_field_index(name) < 0:
            return None
        arr = pc.struct_field(arr, name)
    return arr


def _text(arr: pa.Array | None, n: int) -> pd.Series:
    if arr is None or pa.types.is_null(arr.type):
        return pd.Series([None] * n, dtype=object)
    return pd.Series(pc.cast(arr, pa.string()).to_pandas(), dtype=object)


def _param(table: pa.Table, key: str) -> pd.Series:
    """The first value of event parameter ``key`` per event, as text (string/int/double value, whichever is set)."""
    n = table.num_rows
    params = _field(table, "event_params")
    out = pd.Series([None] * n, dtype=object)
    if params is None or not pa.types.is_list(params.type) or pa.types.is_null(params.type.value_type):
        return out
    flat = pc.list_flatten(params)
    parents = pc.list_parent_indices(params).to_numpy()
    if len(flat) == 0:
        return out
    keys = pc.struct_field(flat, "key")
    hit = pc.equal(keys, key).to_numpy(zero_copy_only=False)
    hit = np.asarray(pd.Series(hit).fillna(False), dtype=bool)
    if not hit.any():
        return out
    value = pc.struct_field(flat, "value")
    found = pd.Series([None] * int(hit.sum()), dtype=object)
    for name in ("string_value", "int_value", "double_value", "float_value"):
        if value.type.get_field_index(name) >= 0:
            v = pc.struct_field(value, name)
            if not pa.types.is_null(v.type):
                found = found.fillna(pd.Series(pc.cast(v, pa.string()).to_pandas(), dtype=object)[hit]
                                     .reset_index(drop=True))
    rows = parents[hit]
    first = ~pd.Series(rows).duplicated().to_numpy()
    out.iloc[rows[first]] = found[first].to_numpy()
    return out


def _first_item(table: pa.Table) -> tuple[pd.Series, pd.Series]:
    n = table.num_rows
    items = _field(table, "items")
    if items is None or not pa.types.is_list(items.type) or pa.types.is_null(items.type.value_type):
        return pd.Series([None] * n, dtype=object), pd.Series(np.zeros(n, dtype="int64"))
    count = pd.Series(pc.list_value_length(items).fill_null(0).to_numpy(zero_copy_only=False)).astype("int64")
    flat = pc.list_flatten(items)
    out = pd.Series([None] * n, dtype=object)
    if len(flat) and flat.type.get_field_index("item_id") >= 0:
        parents = pc.list_parent_indices(items).to_numpy()
        ids = _text(pc.struct_field(flat, "item_id"), len(flat))
        first = ~pd.Series(parents).duplicated().to_numpy()
        out.iloc[parents[first]] = ids[first].to_numpy()
    return out, count


def _frame(table: pa.Table, path: Path, first_row: int) -> pd.DataFrame:
    """One Arrow batch of GA4 events → a flat frame (text ids, UTC microseconds), with _file/_row."""
    n = table.num_rows
    for needed in ("event_timestamp", "event_name", "user_pseudo_id"):
        if needed not in table.column_names:
            raise b.ExportFormatError(str(path), f"no field {needed!r} (every GA4 BigQuery export event has it). "
                                                 f"Fields found: {', '.join(table.column_names[:12])}",
                                      fix="export the events_* table itself, not a query that renames its fields")
    df = pd.DataFrame({
        "ts": _text(_field(table, "event_timestamp"), n), "event_name": _text(_field(table, "event_name"), n),
        "user_pseudo_id": _text(_field(table, "user_pseudo_id"), n), "login_id": _text(_field(table, "user_id"), n),
        "ga_session_id": _param(table, "ga_session_id"), "device": _text(_field(table, "device.category"), n),
        "transaction_id": _text(_field(table, "ecommerce.transaction_id"), n),
        "purchase_revenue": _text(_field(table, "ecommerce.purchase_revenue"), n),
    })
    df["sku"], df["n_items"] = _first_item(table)
    # Session source: collected_traffic_source (event level), else event parameters source/medium/campaign.
    source = _text(_field(table, "collected_traffic_source.manual_source"), n).fillna(_param(table, "source"))
    medium = _text(_field(table, "collected_traffic_source.manual_medium"), n).fillna(_param(table, "medium"))
    campaign = _text(_field(table, "collected_traffic_source.manual_campaign_name"), n).fillna(
        _param(table, "campaign"))
    gclid = _text(_field(table, "collected_traffic_source.gclid"), n).fillna(_param(table, "gclid"))
    df["source"], df["medium"], df["campaign"], df["gclid"] = source, medium, campaign, gclid
    df["_file"], df["_row"] = str(path), np.arange(first_row, first_row + n)
    micros = pd.to_numeric(df["ts"], errors="coerce")
    b.fail(df, micros.isna(), df["ts"], "event_timestamp", "are not integers (microseconds since 1970, UTC)",
           "export the events_* table as it is; event_timestamp is INT64")
    df["micros"] = micros.astype("int64")
    sid = pd.to_numeric(df["ga_session_id"], errors="coerce")
    df["session_id"] = df["user_pseudo_id"].astype(str) + "." + sid.astype("Int64").astype(str)
    df.loc[sid.isna() | df["user_pseudo_id"].isna(), "session_id"] = None
    return df


# --------------------------------------------------------------------------------------------------- import
def _frames(files: list[Path], batch_size: int) -> Iterator[pd.DataFrame]:
    """Every file's events as flat frames of about ``batch_size`` rows, in file order, rows numbered per file."""
    for path in files:
        row = 1
        for table in _batches(path, batch_size):
            yield _frame(table, path, row)
            row += table.num_rows


def import_ga4(source: str | Path, *, store: dict | None = None, batch_size: int = 100_000,
               channel_map: dict | None = None) -> b.Converted:
    """Convert a GA4 BigQuery export (NDJSON, JSON array or Parquet; a file or a folder of daily files) to events.

    Parameters
    ----------
    source : an export file or a folder of them.
    store : store facts; ``timezone`` is required (GA4 times are UTC), ``currency`` as for every dataset.
    batch_size : events per Arrow batch (memory ≈ a few KB × batch_size).
    channel_map : ``"source / medium"`` → channel overrides applied before :func:`default_channel`
        (e.g. ``{"wechat / menu": "social"}``).

    Returns
    -------
    Converted whose ``events`` table is already written (streamed) to a staging CSV; the notes count events,
    sessions, events left out and formula-like cells.

    Example
    -------
    >>> conv = import_ga4("ga4_export/", store={"currency": "USD", "timezone": "America/New_York"})  # doctest: +SKIP
    """
    files = _files(source)
    meta = b.resolve_store(store)
    if "timezone" not in meta:
        raise b.ImportOptionError("timezone", "GA4 event times are UTC; pass --timezone <IANA zone> (the shop's "
                                              "zone, e.g. Europe/London; Python: store={'timezone': ...}) so the "
                                              "events line up with the orders.")
    overrides = {str(k).lower(): str(v) for k, v in dict(channel_map or {}).items()}
    batch_size = int(batch_size)

    # Pass 1: each session's first event with traffic information decides its channel.
    firsts = []
    for df in _frames(files, batch_size):
        has = df["session_id"].notna()
        info = df[has].assign(_info=df["source"].notna() | df["medium"].notna() | df["gclid"].notna())
        info = info.sort_values(["session_id", "_info", "micros"], ascending=[True, False, True])
        firsts.append(info.drop_duplicates("session_id")[["session_id", "micros", "_info", "source", "medium",
                                                          "campaign", "gclid"]])
    if not firsts:
        raise b.ExportFormatError(str(source), "holds no events", fix="export a day that has events")
    sessions = pd.concat(firsts, ignore_index=True).sort_values(["session_id", "_info", "micros"],
                                                                ascending=[True, False, True])
    sessions = sessions.drop_duplicates("session_id").set_index("session_id")
    key = (sessions["source"].fillna("(direct)").str.lower() + " / " + sessions["medium"].fillna("(none)").str.lower())
    grouped = default_channel(sessions["source"], sessions["medium"], gclid=sessions["gclid"])
    sessions["channel"] = key.map(overrides).astype(object).fillna(grouped.astype(object))

    # Pass 2: write the events batch by batch.
    stream_dir = Path(tempfile.mkdtemp(prefix=".ecomlib-stream-"))
    out_path = stream_dir / "events.csv"
    counts = {"events": 0, "no_session": 0, "odd_device": 0, "neutralised": 0}
    first_day, last_day = None, None
    header = True
    try:
        for df in _frames(files, batch_size):
            lost = df["session_id"].isna()
            counts["no_session"] += int(lost.sum())
            df = df[~lost]
            device = df["device"].str.lower()
            odd = device.notna() & ~device.isin(DEVICES)
            counts["odd_device"] += int(odd.sum())
            when = (pd.to_datetime(df["micros"], unit="us", utc=True).dt.tz_convert(meta["timezone"])
                    .dt.tz_localize(None))
            s = sessions.reindex(df["session_id"])
            out = pd.DataFrame({
                "event_time": when.to_numpy(), "user_id": df["user_pseudo_id"].to_numpy(),
                "session_id": df["session_id"].to_numpy(), "event_name": df["event_name"].to_numpy(),
                "sku": df["sku"].to_numpy(), "channel": s["channel"].to_numpy(),
                "device": device.mask(odd).to_numpy(), "transaction_id": df["transaction_id"].to_numpy(),
                "purchase_revenue": pd.to_numeric(df["purchase_revenue"], errors="coerce").to_numpy(),
                "n_items": df["n_items"].to_numpy(), "login_id": df["login_id"].to_numpy(),
                "source": s["source"].to_numpy(), "medium": s["medium"].to_numpy(),
                "campaign": s["campaign"].to_numpy(),
            })
            if len(out):
                lo, hi = out["event_time"].min(), out["event_time"].max()
                first_day = lo if first_day is None else min(first_day, lo)
                last_day = hi if last_day is None else max(last_day, hi)
            safe, k = neutralise_formulas(out)
            counts["neutralised"] += k
            safe.to_csv(out_path, mode="w" if header else "a", header=header, index=False, encoding="utf-8",
                        date_format=TIME_FORMAT, lineterminator="\n")
            header = False
            counts["events"] += len(out)
    except BaseException:
        shutil.rmtree(stream_dir, ignore_errors=True)
        raise
    if counts["events"] == 0:
        shutil.rmtree(stream_dir, ignore_errors=True)
        raise b.ExportFormatError(str(source), "has no event with a ga_session_id parameter",
                                  fix="export the events_* table with its event_params")
    n_sessions = len(sessions)
    by_channel = sessions["channel"].value_counts()
    notes = [f"{counts['events']:,} events of {n_sessions:,} sessions from {len(files):,} file(s), "
             f"{first_day:%Y-%m-%d %H:%M} … {last_day:%Y-%m-%d %H:%M} ({meta['timezone']}); read in batches of "
             f"{batch_size:,} and written as they were read.",
             "sessions by channel (GA4 default channel grouping, simplified — see "
             "ecomlib.importers.ga4.default_channel): "
             + ", ".join(f"{c} {n:,}" for c, n in by_channel.items()) + "."]
    if counts["no_session"]:
        notes.append(f"{counts['no_session']:,} events without a ga_session_id parameter left out (no session to "
                     f"count them in).")
    if counts["odd_device"]:
        notes.append(f"{counts['odd_device']:,} events from devices other than desktop/mobile/tablet (e.g. smart "
                     f"tv) have an empty device.")
    notes.append("sku = the first item's item_id; transaction_id kept to reconcile purchases with orders.")
    return b.Converted(tables={}, store=meta, notes=notes, sources=files, written={"events": out_path},
                       neutralised={"events": counts["neutralised"]})
