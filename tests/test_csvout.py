"""Formula-safe CSV/XLSX writing (ecomlib.csvout): what is a formula, what is left alone, what is counted."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomlib.csvout import neutralise_formulas, write_csv, write_xlsx


def test_text_cells_starting_like_a_formula_are_quoted_and_counted():
    df = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\",\"y\")", "+86 138", "-5", "@SUM(A1)", "\t=1", "\r-2",
                                "\tplain", "a=b", "ok", None]})
    safe, n = neutralise_formulas(df)
    assert safe["name"].tolist()[:7] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+86 138", "'-5", "'@SUM(A1)",
                                         "'\t=1", "'\r-2", "'\tplain"]
    assert safe["name"].tolist()[7:9] == ["a=b", "ok"] and pd.isna(safe["name"].iloc[9])
    assert n == 7
    assert df["name"].iloc[0].startswith("=")            # the input is not modified


def test_numbers_stay_numbers_negative_included():
    df = pd.DataFrame({"spend": [-5.0, 3.5], "qty": [-1, 2], "flag": [True, False],
                       "when": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                       "mixed": pd.Series([-5.0, "-5"], dtype=object)})
    safe, n = neutralise_formulas(df)
    assert n == 1                                         # only the text "-5" of the mixed column
    assert safe["spend"].tolist() == [-5.0, 3.5] and safe["qty"].dtype == df["qty"].dtype
    assert safe["mixed"].tolist() == [-5.0, "'-5"]
    assert safe.dtypes["when"] == df.dtypes["when"] and safe.dtypes["flag"] == bool


def test_string_categorical_and_header_cells():
    df = pd.DataFrame({"=evil": pd.Series(["-x", "y"], dtype="str"),
                       "cat": pd.Categorical(["=a", "=a"], categories=["=a", "b"])})
    safe, n = neutralise_formulas(df)
    assert list(safe.columns) == ["'=evil", "cat"]
    assert safe["'=evil"].tolist() == ["'-x", "y"] and str(safe["'=evil"].dtype) == str(df["=evil"].dtype)
    assert safe["cat"].tolist() == ["'=a", "'=a"]
    assert n == 1 + 1 + 2


def test_write_csv_utf8_counts_and_roundtrips(tmp_path):
    df = pd.DataFrame({"campaign": ["=cmd|' /C calc'!A0", "春季", "-Brand"], "spend": [-1.5, 2.0, 0.0],
                       "day": pd.to_datetime(["2026-11-01 08:00", "2026-11-02 00:00", "2026-11-03 00:00"])})
    path = tmp_path / "sub" / "ads.csv"
    assert write_csv(df, path) == 2
    text = path.read_bytes().decode("utf-8")
    assert "\r" not in text and "春季" in text and "2026-11-01 08:00:00" in text
    back = pd.read_csv(path, dtype={"campaign": str})
    assert back["campaign"].tolist() == ["'=cmd|' /C calc'!A0", "春季", "'-Brand"]
    assert back["spend"].tolist() == [-1.5, 2.0, 0.0]
    assert [p.name for p in path.parent.iterdir()] == ["ads.csv"]       # no temporary file left


def test_write_csv_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(TypeError):
        write_csv(pd.DataFrame({"a": [1]}), path, no_such_argument=1)
    assert path.read_text(encoding="utf-8") == "old\n" and len(list(tmp_path.iterdir())) == 1


def test_write_xlsx_holds_no_formula(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "x.xlsx"
    assert write_xlsx(pd.DataFrame({"a": ["=1+1", "b"], "n": [-3, 4]}), path) == 1
    ws = openpyxl.load_workbook(path).active
    assert ws["A2"].value == "'=1+1" and ws["A2"].data_type == "s" and ws["B2"].value == -3


def test_written_files_get_the_usual_permissions_not_mkstemps_private_ones(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o644
