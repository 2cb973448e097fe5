"""Where and how ``run`` writes: Unix manners (pipes, ``-o``, formats) and the table for people."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result

from crmetrics.cli import main
from crmetrics.cli.destination import check_output, open_output
from crmetrics.errors import UsageError
from crmetrics.output_table import Layout, render_table

SAMPLE = ["-s", "sample", "--start", "2025-01-01", "--end", "2025-04-01"]
CRMETRICS = [sys.executable, "-c", "from crmetrics.cli import main; main()"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner(env=env).invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


# -- pipes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "table"])
def test_a_reader_that_stops_early_ends_the_command_quietly(fmt: str) -> None:
    """``crmetrics run -f csv ... | head -1``: the reader goes away before the data comes."""
    process = subprocess.Popen(
        [*CRMETRICS, "run", *SAMPLE, "-m", "revenue", "-f", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like head -1 after its line: every later write gets EPIPE
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert stderr == ""


def test_head_keeps_the_first_line() -> None:
    command = " ".join([*(f"'{c}'" for c in CRMETRICS), "run", *SAMPLE, "-m", "revenue", "-f", "csv"])
    done = subprocess.run(
        f"{command} | head -1", shell=True, capture_output=True, text=True, check=True, executable="/bin/bash"
    )
    assert done.stdout == "metric,period_start,value\n"
    assert done.stderr == ""


# -- -o and --format ---------------------------------------------------------------------------


def test_output_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "out.csv"
    result = invoke("run", *SAMPLE, "-m", "revenue", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"error: -o {target}: folder {target.parent} does not exist (create it first)\n"


def test_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    result = invoke("run", *SAMPLE, "-m", "revenue", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"error: -o {tmp_path} is a folder: name a file, e.g. -o {tmp_path}/result.csv\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_output_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = invoke("run", *SAMPLE, "-m", "revenue", "-o", str(folder / "out.csv"))
    finally:
        folder.chmod(0o700)
    assert result.exit_code == 2
    assert result.stderr == f"error: -o {folder / 'out.csv'}: no permission to write there\n"


def test_an_output_the_system_refuses_is_a_usage_error(tmp_path: Path) -> None:
    # Checked first, a folder never reaches open(); opened anyway, the OS error is one line.
    with pytest.raises(UsageError) as caught:
        open_output(tmp_path)
    assert caught.value.issues[0].message == f"-o {tmp_path}: Is a directory"


def test_an_output_under_a_file_says_the_file_is_no_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    target = tmp_path / "notes.txt" / "out.csv"
    result = invoke("run", *SAMPLE, "-m", "revenue", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"error: -o {target}: {tmp_path / 'notes.txt'} is a file, not a folder\n"


FULL_DISK = Path("/dev/full")
WRITERS = {
    "run": ["run", *SAMPLE, "-m", "revenue", "-f", "csv"],
    "report": ["report", *SAMPLE, "-m", "revenue"],
    "plot": ["plot", "revenue", *SAMPLE],
}
EXTENSIONS = {"run": "csv", "report": "html", "plot": "png"}


@pytest.mark.skipif(not FULL_DISK.exists(), reason="needs /dev/full, a device whose every write fails")
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_write_the_system_fails_is_one_line(tmp_path: Path, command: str) -> None:
    # /dev/full opens, then every write fails with ENOSPC, as a full disk does; a link
    # gives it the extension each command expects.
    if command != "run":
        pytest.importorskip("altair")
        pytest.importorskip("vl_convert")
    target = tmp_path / f"out.{EXTENSIONS[command]}"
    target.symlink_to(FULL_DISK)
    result = invoke(*WRITERS[command], "-o", str(target))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == f"error: cannot write -o {target}: No space left on device"


@pytest.mark.parametrize("command", ["report", "plot"])
def test_an_output_the_system_refuses_is_one_line_for_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # Root passes every permission check, so the OS may still refuse the file at open():
    # stood in for by a folder named like an image, with the early checks skipped.
    pytest.importorskip("altair")
    pytest.importorskip("vl_convert")
    import crmetrics.cli.reports as reports

    monkeypatch.setattr(reports, "check_output", lambda output, fmt: None)
    target = tmp_path / "chart.svg"
    target.mkdir()
    args = [*WRITERS[command], "-o", str(target)]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"error: -o {target}: Is a directory"


def test_a_dash_output_is_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", *SAMPLE, "-m", "revenue", "-f", "csv", "-o", "-")
    assert result.exit_code == 0, result.output
    # three months of revenue: a header and three rows, on stdout
    assert result.stdout.splitlines()[0] == "metric,period_start,value"
    assert len(result.stdout.splitlines()) == 4
    assert list(tmp_path.iterdir()) == []


def test_a_dash_report_is_written_to_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("altair")
    pytest.importorskip("vl_convert")
    monkeypatch.chdir(tmp_path)
    result = invoke("report", *SAMPLE, "-m", "revenue", "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().lower().startswith("<!doctype html>")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", ["csv", "json", "parquet"])
def test_format_follows_the_output_extension(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"out.{suffix}"
    result = invoke("run", *SAMPLE, "-m", "revenue", "-o", str(target))
    assert result.exit_code == 0, result.output
    read = {"csv": pl.read_csv, "json": pl.read_json, "parquet": pl.read_parquet}[suffix]
    frame = read(target)
    assert frame.columns == ["metric", "period_start", "value"]
    assert frame.height == 3


def test_a_format_contradicting_the_extension_is_refused(tmp_path: Path) -> None:
    result = invoke("run", *SAMPLE, "-m", "revenue", "-f", "csv", "-o", str(tmp_path / "out.json"))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"error: --format csv does not match the extension of {tmp_path / 'out.json'} (json)"
    )
    assert not (tmp_path / "out.json").exists()


def test_parquet_is_never_written_to_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Terminal())
    with pytest.raises(UsageError) as caught:
        check_output(None, "parquet")
    assert caught.value.issues[0].message == "parquet is binary and stdout is a terminal"
    check_output(None, "csv")  # text is fine


def test_help_lists_grains_and_formats() -> None:
    text = invoke("run", "--help").output
    assert "[day|week|month|quarter|year|fiscal_quarter|fiscal_year]" in text
    assert "[table|csv|json|parquet|...]" in text


def test_help_grains_are_the_engine_grains() -> None:
    from crmetrics.cli.common import FORMAT_CHOICES, GRAIN_CHOICES
    from crmetrics.output import BUILTIN_FORMATS
    from crmetrics.periods import GRAINS

    assert tuple(GRAINS) == GRAIN_CHOICES
    assert tuple(BUILTIN_FORMATS) == FORMAT_CHOICES


# -- the table -----------------------------------------------------------------------------------


def _long(rows: list[tuple[str, date, str | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"metric": pl.String, "period_start": pl.Date, "segment": pl.String, "value": pl.Float64},
        orient="row",
    )


JAN, FEB, MAR, APR = (date(2025, m, 1) for m in (1, 2, 3, 4))
LAYOUT = Layout(
    order=["churn_rate", "revenue"],
    labels={"churn_rate": "Churn rate", "revenue": "Revenue"},
    units={"churn_rate": "ratio", "revenue": "currency"},
    categories={"churn_rate": "operational", "revenue": "financial"},
    by=["segment"],
    width=80,
)


def test_a_metric_shows_only_its_own_groups() -> None:
    # revenue has a null group (revenue of no customer's segment); churn_rate has none.
    result = _long(
        [
            ("churn_rate", JAN, "SMB", 0.5),
            ("revenue", JAN, None, 10.0),
            ("revenue", JAN, "SMB", 20.0),
        ]
    )
    text = render_table(result, LAYOUT)
    lines = text.splitlines()
    # churn_rate comes first, as ordered, each category under its own title.
    assert lines == [
        "",
        "OPERATIONAL",
        "",
        "period   segment  Churn rate",
        "-------  -------  ----------",
        "2025-01  SMB          50.0 %",
        "",
        "FINANCIAL",
        "",
        "period   segment  Revenue",
        "-------  -------  -------",
        "2025-01  (null)     10.00",
        "2025-01  SMB        20.00",
    ]


def test_many_periods_put_metrics_in_rows_and_wrap_by_period_blocks() -> None:
    months = [date(2025, m, 1) for m in range(1, 13)]
    result = _long(
        [("churn_rate", m, "SMB", 0.125) for m in months] + [("revenue", m, "SMB", 1234567.5) for m in months]
    )
    layout = Layout(
        order=["revenue", "churn_rate"],
        labels=LAYOUT.labels,
        units=LAYOUT.units,
        categories={"churn_rate": "x", "revenue": "x"},
        by=["segment"],
        width=60,
    )
    lines = render_table(result, layout, caption="source: sample | grain: month").splitlines()
    assert lines[0] == "source: sample | grain: month"
    assert max(len(line) for line in lines) <= 60
    # Labels: "Churn rate" (10) and "SMB" under "segment" (7): 10 + 2 + 7 = 19 characters;
    # a period column holds "1,234,567.50" (12): 19 + 3 * (2 + 12) = 61 > 60, so 2 periods a block.
    headers = [line for line in lines if line.startswith("metric")]
    assert len(headers) == 6
    assert headers[0] == "metric      segment       2025-01       2025-02"
    # Every block repeats the full labels, in the order asked for: revenue first.
    assert next(line for line in lines if line.startswith("Revenue")) == (
        "Revenue     SMB      1,234,567.50  1,234,567.50"
    )
    assert sum(line.startswith("Churn rate  SMB") for line in lines) == 6


def test_currency_carries_the_reporting_currency() -> None:
    layout = Layout(
        order=["revenue"],
        labels={"revenue": "Revenue"},
        units={"revenue": "currency"},
        categories={},
        by=[],
        currency="EUR",
    )
    result = pl.DataFrame({"metric": ["revenue"], "period_start": [JAN], "value": [1500.0]})
    assert render_table(result, layout).splitlines()[-1] == "2025-01  1,500.00 EUR"


def test_project_reporting_currency_reaches_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crmetrics.yaml").write_text("reporting_currency: USD\n", encoding="utf-8")
    result = invoke("run", *SAMPLE, "-m", "revenue,churn_rate")
    assert result.exit_code == 0, result.output
    # Three periods: a period per row, revenue's category first as -m orders it.
    revenue, churn = [line for line in result.stdout.splitlines() if line.startswith("2025-01")]
    assert revenue.endswith(" USD")
    assert churn.endswith(" %")
    assert "USD" not in churn


def test_caption_says_what_was_run() -> None:
    result = invoke(
        "run",
        *SAMPLE,
        "-m",
        "churn_rate",
        "--by",
        "segment",
        "--where",
        "region = 'EMEA'",
        env={"COLUMNS": "200"},
    )
    assert result.stdout.splitlines()[0] == (
        "source: sample | grain: month | range: 2025-01-01 to 2025-04-01 (end exclusive) | by: segment"
        " | where: region = 'EMEA'"
    )


@pytest.mark.parametrize("width", [80, 120])
def test_the_whole_catalog_fits_the_terminal(width: int) -> None:
    args = ["run", "-s", "sample", "--start", "2025-01-01", "--end", "2026-01-01"]
    result = invoke(*args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    # No label is cut: every metric's label appears whole (but those of metrics that need a
    # grouping, which an ungrouped run skips with a warning).
    labels = json.loads(invoke("list", "--format", "json").stdout)
    for metric in (m for m in labels if f"skipped {m['name']}:" not in result.stderr):
        assert any(line.startswith(metric["label"] + " ") for line in lines), metric["label"]
    # Periods in order within each block.
    headers = [line.split()[1:] for line in lines if line.startswith("metric")]
    assert all(h == sorted(h) for h in headers)


def test_the_table_is_80_wide_when_not_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [*CRMETRICS, "run", "-s", "sample", "--start", "2025-01-01", "--end", "2026-01-01"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    widths = [len(line) for line in done.stdout.splitlines()]
    assert max(widths) <= 80


@pytest.mark.parametrize("command", ["list", "explain", "dimensions", "values", "inspect", "plugins"])
def test_help_names_the_format_choices_it_offers(command: str) -> None:
    # explain's human format is "text", the others' "table": the help must say the right one.
    text = " ".join(invoke(command, "--help").output.split())
    choices = text.split("--format [", 1)[1].split("]", 1)[0].split("|")
    assert f"{choices[0]} for people, json for programs" in text
