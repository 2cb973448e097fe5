"""The README's path, followed as written, in an empty folder: every command exits 0.

The commands and files come from README.md itself, so the test breaks when the README
drifts from what the program does. ``bash`` blocks are run in order (the ``crmetrics`` and
``mkdir`` steps of each line; installing and testing are the reader's business, checked
against ``.ci/run`` instead); a ``yaml`` block is written to the file the paragraph before
it names. The tour is then run a second time, with the project file in place, the way a
reader keeps using the same commands after creating it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmetrics.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
#: Steps the test leaves to the reader: making an environment, installing, testing.
SETUP = ("python ", ". .venv/bin/activate")


@dataclass(frozen=True)
class Step:
    """A command to run, or a file to write, and whether it is part of the tour."""

    command: str = ""
    path: str = ""
    text: str = ""
    tour: bool = False


def _target(before: str) -> str:
    """The file a yaml block is meant for: the last `name.yaml` its paragraph mentions."""
    paragraph = before.rstrip().rsplit("\n\n", 1)[-1]
    names = re.findall(r"`([\w./-]+\.ya?ml)`", paragraph)
    assert names, f"a yaml block in README.md does not say which file it is:\n{paragraph}"
    return names[-1]


def readme_steps() -> list[Step]:
    steps = []
    tour_at = README.index("## A five-minute tour")
    end_at = README.index("## From Python")
    for match in BLOCK.finditer(README):
        if match.start() > end_at:
            break
        kind, body = match.group(1), match.group(2)
        tour = match.start() > tour_at
        if kind == "yaml":
            steps.append(Step(path=_target(README[: match.start()]), text=body, tour=tour))
            continue
        assert kind == "bash", f"README.md has a {kind} block before 'From Python'"
        for line in body.splitlines():
            command = line.split("  #", 1)[0].strip()
            for part in (p.strip() for p in command.split("&&")):
                if part and not part.startswith(SETUP):
                    steps.append(Step(command=part, tour=tour))
    return steps


def _run(command: str, env: dict[str, str]) -> tuple[int, str]:
    if any(sign in command for sign in "|<>"):
        done = subprocess.run(command, shell=True, capture_output=True, text=True, env=env, check=False)
        return done.returncode, done.stdout + done.stderr
    words = shlex.split(command)
    if words[0] == "mkdir":
        done = subprocess.run(words, capture_output=True, text=True, check=False)
        return done.returncode, done.stderr
    assert words[0] == "crmetrics", f"README.md runs {words[0]!r}, which this test does not know"
    result = CliRunner().invoke(main, words[1:], catch_exceptions=False)
    return result.exit_code, result.output


def test_readme_commands_and_files_are_found() -> None:
    steps = readme_steps()
    commands = [s.command for s in steps if s.command]
    assert commands[0] == "crmetrics run --source sample --start 2025-01-01 --end 2025-07-01"
    assert {s.path for s in steps if s.path} == {
        "metrics/my_metrics.yaml",
        "metrics/my_tests.yaml",
        "crmetrics.yaml",
    }
    assert sum(s.tour for s in steps) >= 12


def test_ci_runs_the_readme_test_command() -> None:
    test_block = next(body for kind, body in BLOCK.findall(README) if kind == "bash" and "pytest" in body)
    command = test_block.strip()
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-m spark" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_path_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    steps = readme_steps()
    for step in steps:
        if step.path:
            target = tmp_path / step.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
            continue
        code, output = _run(step.command, env)
        assert code == 0, f"{step.command}\nexited {code}:\n{output}"
    assert (tmp_path / "crmetrics.yaml").is_file()
    # With the project file in place, the tour's commands work unchanged.
    for step in steps:
        if step.tour and step.command:
            code, output = _run(step.command, env)
            assert code == 0, f"with crmetrics.yaml: {step.command}\nexited {code}:\n{output}"
    assert (tmp_path / "nps.csv").read_text(encoding="utf-8").startswith("metric,period_start,value,n\n")
