"""The ``ecomlib`` command: ``validate`` a dataset folder, generate the ``demo-data``, run a ``review``.

Built on click (well kept, composable; argument parsing and help are not ours to maintain).
Exit codes: 0 success, 1 invalid data or a failed notebook, 2 wrong usage or parameters; ``alerts``: 0 nothing
fired, 1 warnings only, 2 something critical, 3 the rules or the data could not be read.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from .errors import EcomlibError, ParameterError, PeriodError, ReviewError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ecomlib")
def main() -> None:
    """E-commerce operations review kit: validate data, build the demo store, run reviews to HTML."""


@main.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tables", help="Comma-separated tables to check (default: every table present).")
def validate(data_dir: Path, tables: str | None) -> None:
    """Check DATA_DIR against the data contract; print a summary per table."""
    from .contract import TABLES
    from .dataset import load_dataset

    wanted = list(dict.fromkeys(t.strip() for t in tables.split(",") if t.strip())) if tables else None
    for table in wanted or []:
        if table not in TABLES:
            close = difflib.get_close_matches(table, list(TABLES), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f"; the contract has {', '.join(TABLES)}"
            click.echo(f"error: unknown table {table!r}{hint}", err=True)
            sys.exit(2)
    try:
        ds = load_dataset(data_dir, tables=wanted)
    except EcomlibError as exc:
        click.echo(f"invalid: {exc}", err=True)
        sys.exit(1)
    from .dataset import unmatched_keys

    summary = ds.summary()
    click.echo(f"{data_dir}: valid — store {ds.store.name!r}, currency {ds.store.currency}, "
               f"times in {ds.store.timezone}")
    for row in summary.itertuples():
        span = f"{row.first:%Y-%m-%d} … {row.last:%Y-%m-%d}" if row.first == row.first else "—"
        click.echo(f"  {row.table:<16} {row.rows:>10,} rows  {span:<24}  key: {row.key}")
    for warning in ds.warnings:
        click.echo(f"warning: {warning.describe(ds.files.get(warning.table))}")
    for row in unmatched_keys(ds).itertuples():
        amount = f", {row.measure} {row.amount:,.2f}" if row.amount == row.amount and row.measure else ""
        near = f" (did you mean {row.near!r}?)" if isinstance(row.near, str) and row.near else ""
        # informational: unpaid channels have no ad spend by nature; an ad channel without orders is a typo to fix
        click.echo(f"no match: {row.table}.{row.column} {row.value!r} is in no {row.other_table}.{row.other_column}"
                   f" ({row.rows:,} rows{amount}){near}")


@main.command("import")
@click.argument("kind", metavar="KIND")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder to write (contract CSVs + store.yaml).")
@click.option("--currency", help="Store currency (ISO 4217) when the export does not say it.")
@click.option("--timezone", help="Store time zone (IANA, e.g. Asia/Shanghai).")
@click.option("--name", help="Store name shown on the reports.")
@click.option("--option", "options", multiple=True, metavar="NAME=VALUE",
              help="Importer option (repeatable), e.g. date_format=dayfirst, cost_ratio=0.45, mapping=m.yaml.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an existing dataset folder.")
def import_(kind: str, source: Path, out: Path, currency: str | None, timezone: str | None, name: str | None,
            options: tuple[str, ...], overwrite: bool) -> None:
    """Convert a platform export (SOURCE file or folder) into a validated dataset folder; see docs/importers.md.

    KIND is one of the importers of ``ecomlib.importers.IMPORTERS`` (shopify, ga4, google_ads, meta_ads,
    amazon_returns, purchase_orders, transactions, uci_online_retail, olist, mapping …).
    """
    from .importers import IMPORTERS, ImportOptionError, MappingFileError, import_export, parse_option

    if kind not in IMPORTERS:
        close = difflib.get_close_matches(kind, list(IMPORTERS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        click.echo(f"error: unknown import kind {kind!r}; {hint}the kinds are {', '.join(IMPORTERS)}", err=True)
        sys.exit(2)

    store = {k: v for k, v in {"currency": currency, "timezone": timezone, "name": name}.items() if v}
    for option in options:
        if problem := _unreadable_option(option):
            click.echo(f"error: --option {option}: {problem}", err=True)
            sys.exit(2)
    try:
        result = import_export(kind, source, out, store=store or None, overwrite=overwrite,
                               **dict(parse_option(o) for o in options))
    except (ImportOptionError, MappingFileError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except EcomlibError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for note in getattr(result, "notes", []):
        click.echo(f"note: {note}", err=True)
    click.echo(f"{out}: {', '.join(sorted(result))} written and valid; next: ecomlib review --data {out}")


def _unreadable_option(text: str) -> str | None:
    """Why an ``--option NAME=VALUE`` value that starts like a YAML list or mapping cannot be read, or None."""
    import yaml

    _, _, value = text.partition("=")
    if value.strip()[:1] not in ("[", "{"):
        return None
    try:
        yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "not valid"
        return (f"the value {value!r} is not a readable list or mapping ({problem}); close the bracket "
                f"(e.g. [POST, EMS] or {{chargeback: refunded}}) or quote it")
    return None


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder.")
@click.option("--params", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Alert rules (YAML; default: the shipped ecomlib/rules/alerts.yaml, copied in params/alerts.yaml).")
@click.option("--period", help="2026-W47, 2026-11, … (default: the last complete week in the data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for alerts.json; a review's period folder (reports/2026-W47) also gets the alerts at "
                   "the top of its index.html.")
@click.option("--lang", type=click.Choice(["en", "zh"]), help="Language of the feed (default: the store's).")
def alerts(data_dir: Path, rules_path: Path | None, period: str | None, out_dir: Path | None,
           lang: str | None) -> None:
    """Evaluate the alert rules for a period: print the feed; exit 0 nothing fired, 1 warnings, 2 critical."""
    from .alerts import console_text, exit_code, run_alerts
    from .dataset import read_store
    from .i18n import Messages
    from .runner import add_alerts

    try:
        fired = run_alerts(data_dir, rules_path=rules_path, out=out_dir, period=period, lang=lang)
    except EcomlibError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    store = read_store(data_dir)
    click.echo(console_text(fired, Messages(lang or store.lang, currency=store.currency)))
    if out_dir is not None and (out_dir / "summary.json").exists():
        index = add_alerts(out_dir, [a.to_json() for a in fired])
        click.echo(f"alerts added to {index}")
    sys.exit(exit_code(fired))


@main.command("demo-data")
@click.option("--out", default="data/demo", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the demo store into.")
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed: same seed, same bytes.")
@click.option("--no-plants", is_flag=True, help="The same shop without any planted finding (for false-alarm checks).")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(min=1),
              help="N times the demo's customers, orders and what scales with them, same planted findings, written "
                   "as Parquet part files one copy at a time (1: the normal store).")
@click.option("--events-scale", type=click.IntRange(min=1),
              help="M times the demo's web events (default: the same as --scale).")
def demo_data(out: Path, seed: int, no_plants: bool, scale: int, events_scale: int | None) -> None:
    """Generate the deterministic demo store (19 months, planted findings; see data/README.md)."""
    from .contract import TABLES
    from .demo import write_demo
    from .demo_scale import remove_tables, write_scaled

    plants = "without planted findings" if no_plants else "with planted findings"
    if scale == 1 and events_scale in (None, 1):
        remove_tables(out, TABLES)  # a scaled store's Parquet files would shadow the CSV files
        written = write_demo(out, seed=seed, plants=not no_plants)
        click.echo(f"demo store written to {out} ({len(written)} files, seed {seed}, {plants})")
        return
    written = write_scaled(out, seed=seed, plants=not no_plants, scale=scale, events_scale=events_scale)
    click.echo(f"demo store ×{scale} (events ×{events_scale or scale}) written to {out} ({len(written)} tables, "
               f"seed {seed}, {plants})")


@main.command()
@click.option("--params", "params_path", default="params/weekly.yaml", show_default=True,
              help="Parameter set: a YAML file, or the name of a shipped set (weekly, monthly); "
                   "params/weekly.yaml falls back to the shipped set outside the repository.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path),
              help="Dataset folder (default: the parameter set's `data`, else data/demo); with --engine duckdb also "
                   "a .duckdb file, with --engine spark also a Parquet location (s3a://…) or a catalog prefix.")
@click.option("--engine", type=click.Choice(["auto", "pandas", "duckdb", "spark"]), default=None,
              help="Where the heavy reductions run (default: the parameter set's `engine`, else auto: DuckDB above "
                   "256 MB of table files, pandas below). Spark: ECOMLIB_SPARK_MASTER or SPARK_REMOTE, see README.")
@click.option("--period", help="2026-W47, 2026-11, 2026-11-01..2026-11-14, last-week or last-month "
                               "(default: the last complete period inside the data). A period with no data is refused.")
@click.option("--start", help="First day of a custom period (YYYY-MM-DD); with --end.")
@click.option("--end", help="Last day of a custom period, inclusive (YYYY-MM-DD); with --start.")
@click.option("--out", "out_dir", default="reports", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Reports folder; the run goes in OUT/PERIOD.")
@click.option("--only", help="Comma-separated notebooks of the set to run (e.g. funnel,returns).")
@click.option("-p", "--parameter", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a parameter (repeatable; wins over the parameter set); NOTEBOOK:NAME=VALUE for one "
                   "notebook only. The runner's own (data_dir, period and comparison dates) are refused.")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 16), help="Notebooks run at once.")
@click.option("--show-code", is_flag=True, help="Keep the code cells in the HTML pages.")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds one notebook may run before it is stopped and marked failed.")
def review(params_path: str, data_dir: Path | None, engine: str | None, period: str | None, start: str | None,
           end: str | None, out_dir: Path, only: str | None, overrides: tuple[str, ...], jobs: int, show_code: bool,
           timeout: float) -> None:
    """Run a parameter set's notebooks for a period and render HTML reports with an index page."""
    from .runner import Interrupted, run_review

    names = [n.strip() for n in only.split(",") if n.strip()] if only is not None else None
    if names is not None and not names:
        click.echo("error: --only names no notebook", err=True)
        sys.exit(2)
    try:
        result = run_review(params_path, data_dir=data_dir, engine=engine, period=period, start=start, end=end,
                            out_dir=out_dir,
                            only=names, overrides=list(overrides), jobs=jobs, show_code=show_code,
                            timeout=timeout, echo=lambda line: click.echo(line, err=True))
    except (KeyboardInterrupt, Interrupted):
        click.echo("interrupted: nothing was replaced; the previous report is as it was", err=True)
        sys.exit(130)
    except (ParameterError, PeriodError, ReviewError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except EcomlibError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    failed = [nb for nb in result["notebooks"] if nb["status"] == "failed"]
    click.echo(f"report: {result['index']}")
    for nb in failed:
        click.echo(f"FAILED {nb['name']}: {nb['error']}", err=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
