"""Progress of local runs: one line of what is read, only on a terminal and only when slow."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from crmetrics.cli import main
from crmetrics.cli.progress import TerminalProgress, terminal_progress
from crmetrics.engine import Engine
from crmetrics.errors import DataError
from crmetrics.plan import Request
from crmetrics.progress import Progress

REQUEST = Request.build(["churn_rate", "revenue"], start="2025-01-01", end="2025-03-01")


class Recorder(Progress):
    def __init__(self) -> None:
        self.events: list[str] = []

    def reading(self, description: str) -> None:
        self.events.append(f"reading {description}")

    def finished(self) -> None:
        self.events.append("finished")


def terminal(delay: float) -> tuple[TerminalProgress, io.StringIO]:
    stream = io.StringIO()
    return TerminalProgress(Console(file=stream, force_terminal=True, color_system=None), delay=delay), stream


def test_an_evaluation_says_which_tables_it_reads() -> None:
    recorder = Recorder()
    Engine(progress=recorder).evaluate(REQUEST, "sample")
    # churn_rate reads customers (lost, at start); revenue reads revenue
    assert recorder.events == ["reading customers, revenue from sample", "finished"]


def test_a_failed_evaluation_still_finishes() -> None:
    recorder = Recorder()
    with pytest.raises(DataError):
        Engine(progress=recorder).evaluate(REQUEST, "csv:/nonexistent-folder")
    assert recorder.events[-1] == "finished"


def test_a_slow_run_prints_one_line() -> None:
    display, stream = terminal(delay=0.05)
    display.reading("customers, revenue from csv:data/")
    time.sleep(0.5)
    display.finished()
    assert stream.getvalue().strip() == "reading customers, revenue from csv:data/ …"


def test_a_quick_run_prints_nothing() -> None:
    display, stream = terminal(delay=5)
    display.reading("customers from sample")
    display.finished()
    time.sleep(0.05)
    assert stream.getvalue() == ""


def test_no_display_when_stderr_is_not_a_terminal(capsys: Any) -> None:
    # pytest captures stderr: it is not a terminal here, as in a pipe or a log file
    assert terminal_progress() is None
    args = ["run", "-s", "sample", "-m", "churn_rate", "--start", "2025-01-01", "--end", "2025-03-01"]
    result = CliRunner().invoke(main, [*args, "-f", "csv"])
    assert result.exit_code == 0
    assert "reading" not in result.output


def test_an_engine_is_silent_by_default(capsys: Any) -> None:
    Engine().evaluate(REQUEST, "sample")
    assert capsys.readouterr() == ("", "")
