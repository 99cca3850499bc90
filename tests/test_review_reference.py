"""End to end on real public data: import UCI Online Retail, run the weekly review; what lacks data is skipped."""

from __future__ import annotations

import json
from pathlib import Path

from ecomlib import runner
from ecomlib.importers import import_export

ROOT = Path(__file__).resolve().parents[1]


def test_uci_online_retail_import_then_review(reference, tmp_path):
    data = tmp_path / "uci"
    import_export("uci_online_retail", reference / "uci_online_retail" / "online_retail_subset.csv", data,
                  store={"currency": "GBP", "timezone": "Europe/London", "name": "UCI gift shop"}, cost_ratio=0.5)
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=data, out_dir=tmp_path / "reports",
                               period="2011-W48", echo=lambda line: None)
    status = {nb["name"]: nb["status"] for nb in result["notebooks"]}
    # orders, items, products and customers only: the reviews that need events, ads or suppliers are skipped
    assert status == {"funnel": "skipped", "cohort_ltv": "ok", "ad_roas": "skipped",
                      "supplier_performance": "skipped", "returns": "skipped"}
    summary = json.loads((Path(result["index"]).parent / "summary.json").read_text(encoding="utf-8"))
    cohort = next(nb for nb in summary["notebooks"] if nb["name"] == "cohort_ltv")
    assert cohort["headlines"] and all("MissingTableError" in nb["error"] for nb in summary["notebooks"]
                                       if nb["status"] == "skipped")
