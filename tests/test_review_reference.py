"""End to end on real public data: each data set of ../shared/reference is imported and the whole weekly review
run; every review whose tables the data can fill renders ok, the others are skipped with one line, none fails.
docs/importers.md has the same table in words (what each data set can and cannot show)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlib import runner
from ecomlib.importers import import_export

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = runner.load_parameter_set(ROOT / "params" / "weekly.yaml").notebooks

#: data set → (import kind, source under ../shared/reference, store, importer options, period, reviews that run)
DATASETS = {
    "uci_online_retail": ("uci_online_retail", "uci_online_retail/online_retail_subset.csv",
                          {"currency": "GBP", "timezone": "Europe/London", "name": "UCI gift shop"},
                          {"cost_ratio": 0.5}, "2011-W48", {"cohort_ltv", "returns", "segments"}),
    "uci_ii_2009": ("uci_online_retail", "uci_online_retail_ii/online_retail_ii_2009-12-02_to_2009-12-04.csv",
                    {"currency": "GBP", "timezone": "Europe/London"}, {"cost_ratio": 0.5, "date_format": "dayfirst"},
                    None, {"cohort_ltv", "returns", "segments"}),
    "uci_ii_2010": ("uci_online_retail", "uci_online_retail_ii/online_retail_ii_2010-12-01_to_2010-12-02.csv",
                    {"currency": "GBP", "timezone": "Europe/London"}, {"cost_ratio": 0.5, "date_format": "dayfirst"},
                    None, {"cohort_ltv", "returns", "segments"}),
    "olist": ("olist", "olist_brazilian_ecommerce", {"currency": "BRL", "timezone": "America/Sao_Paulo"},
              {"cost_ratio": 0.5}, "2018-W35", {"cohort_ltv", "segments"}),
    "facebook_kag": ("mapping", "facebook_ad_conversion_kag/KAG_conversion_data.csv", None,
                     {"mapping": "facebook_kag"}, None, set()),
    "usaid_scms": ("purchase_orders", "usaid_scms_supply_chain_shipments/SCMS_Delivery_History_Dataset.csv",
                   {"timezone": "UTC"}, {"mapping": "usaid_scms"}, "2015-W34", {"supplier_performance"}),
}


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_import_then_the_whole_review(dataset, reference, tmp_path):
    kind, source, store, options, period, runs = DATASETS[dataset]
    data = tmp_path / dataset
    import_export(kind, reference / source, data, store=store, **options)
    result = runner.run_review(ROOT / "params" / "weekly.yaml", data_dir=data, out_dir=tmp_path / "reports",
                               period=period, echo=lambda line: None)
    status = {nb["name"]: nb["status"] for nb in result["notebooks"]}
    assert status == {name: ("ok" if name in runs else "skipped") for name in REVIEWS}, \
        {nb["name"]: nb["error"] for nb in result["notebooks"] if nb["status"] == "failed"}
    run_dir = Path(result["index"]).parent
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    for nb in summary["notebooks"]:
        page = (run_dir / nb["html"]).read_text(encoding="utf-8")
        assert "Traceback" not in page, nb["name"]
        if nb["status"] == "ok":
            assert nb["headlines"], f"{dataset}: {nb['name']} recorded no headline"
        else:  # one line naming the table and how to get it
            assert nb["missing_table"] and "\n" not in nb["error"] and "ecomlib import" in nb["note"], nb
