"""Any bytes in, a located error out: definitions and project files nobody should write.

Each case once caught a raw exception, a hang or an unbounded message: binary content,
invalid UTF-8, NUL bytes, an alias bomb, an alias inside itself, deep nesting, a megabyte
value. Every one must end as a ``DefinitionError`` with a place, through the API and the CLI,
quickly; every limit is raisable by a ``CRMETRICS_`` variable or the project file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmetrics.cli import main
from crmetrics.engine import Engine
from crmetrics.errors import DefinitionError, Location, UsageError
from crmetrics.limits import Limits
from crmetrics.project import load_project

GOOD = """\
metrics:
  - name: deal_total
    type: aggregate
    table: deals
    time: created_at
    expr: sum(amount)
"""

#: 9 aliases of 9 aliases, nine levels: 9**9 (387 million) nodes once expanded, 498 bytes.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMETRICS_PROJECT", raising=False)
    for name in ("FILE_BYTES", "YAML_NODES", "DEPTH", "FORMULA_CHARS", "METRIC_REACH"):
        monkeypatch.delenv(f"CRMETRICS_MAX_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def load(folder: Path) -> DefinitionError:
    """The error validating ``folder`` raises through the API (and that it raises one)."""
    with pytest.raises(DefinitionError) as caught:
        Engine(definitions=[folder], load_installed_plugins=False).validate()
    return caught.value


def write_bytes(tmp_path: Path, content: bytes, name: str = "metrics.yaml") -> Path:
    folder = tmp_path / "defs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    return folder


HOSTILE = {
    # Byte 0x80 at offset 128; the line feed (byte 10) ends line 1, so line 2 starts at
    # offset 11 and 0x80 is its 128 - 11 + 1 = 118th character.
    "binary": (bytes(range(256)) * 4, "not-utf8", (2, 118)),
    "invalid utf-8 inside a value": (
        GOOD.encode().replace(b"sum(amount)", b"sum(\xc3\x28)"),
        "not-utf8",
        (6, 15),
    ),
    "utf-16": ("metrics: []\n".encode("utf-16"), "not-utf8", (1, 1)),
    "nul byte": (GOOD.encode().replace(b"deals", b"de\x00als"), "yaml-syntax", (4, 14)),
    "tab indentation": (GOOD.encode().replace(b"    type", b"\ttype"), "yaml-syntax", (3, 1)),
    "alias bomb": (ALIAS_BOMB.encode(), "yaml-limit", None),
    "alias inside itself": (b"metrics: &m [*m]\n", "yaml-limit", (1, 10)),
    "deep nesting": (b"metrics: " + b"[" * 100 + b"]" * 100 + b"\n", "yaml-limit", None),
    "libyaml's own depth": (b"metrics: " + b"[" * 20_000 + b"]" * 20_000 + b"\n", "yaml-syntax", None),
}


@pytest.mark.parametrize(("content", "code", "place"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bytes_give_one_located_error_quickly(
    tmp_path: Path, content: bytes, code: str, place: tuple[int, int] | None
) -> None:
    folder = write_bytes(tmp_path, content)
    started = time.monotonic()
    error = load(folder)
    assert time.monotonic() - started < 1.0
    assert [issue.code for issue in error.issues] == [code]
    issue = error.issues[0]
    assert issue.location is not None and issue.location.file == str(folder / "metrics.yaml")
    if place:
        assert (issue.location.line, issue.location.column) == place
    assert len(str(error)) < 1_000  # a window of the line, never the whole megabyte


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    folder = write_bytes(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert list(Engine(definitions=[folder], load_installed_plugins=False).validate().metrics) == [
        "deal_total"
    ]


def test_the_alias_bomb_names_the_limit_and_how_to_raise_it(tmp_path: Path) -> None:
    issue = load(write_bytes(tmp_path, ALIAS_BOMB.encode())).issues[0]
    assert "1,000,000 YAML nodes" in issue.message
    assert "CRMETRICS_MAX_YAML_NODES" in issue.hint and "limits:" in issue.hint


def test_a_folder_named_as_a_file_and_a_huge_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "defs"
    (folder / "inner.yaml").mkdir(parents=True)
    issue = load(folder).issues[0]
    assert (issue.code, issue.message) == (
        "unreadable-file",
        f"{folder / 'inner.yaml'} is a folder, not a YAML file",
    )

    (folder / "inner.yaml").rmdir()
    (folder / "big.yaml").write_text(GOOD + "# " + "x" * 2_000 + "\n")
    monkeypatch.setenv("CRMETRICS_MAX_FILE_BYTES", "1000")
    issue = load(folder).issues[0]
    assert issue.code == "file-too-large"
    assert "more than the limit of 1,000" in issue.message  # 2,1xx bytes: GOOD is 126, the comment 2,003


def test_a_file_of_more_metrics_than_the_limit_is_refused_at_its_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three derived metrics over one aggregate: four metrics in the file.
    text = "metrics:\n" + "".join(
        f"  - name: m{i}\n    type: derived\n    expr: m0 + {i}\n" for i in range(1, 4)
    )
    text += "  - name: m0\n    type: aggregate\n    table: deals\n    time: created_at\n    expr: count(*)\n"
    folder = write_bytes(tmp_path, text.encode())
    monkeypatch.setenv("CRMETRICS_MAX_METRICS", "3")
    issue = load(folder).issues[0]
    assert issue.code == "too-many-metrics"
    assert issue.message == "the file defines 4 metrics, more than the limit of 3"
    assert issue.location is not None and issue.location.line == 1  # the 'metrics:' key
    assert "CRMETRICS_MAX_METRICS" in (issue.hint or "")
    monkeypatch.setenv("CRMETRICS_MAX_METRICS", "4")
    engine = Engine(definitions=[folder], load_installed_plugins=False)
    assert {"m0", "m1", "m2", "m3"} <= set(engine.validate().metrics)


def test_a_megabyte_value_gives_a_short_message(tmp_path: Path) -> None:
    folder = write_bytes(tmp_path, GOOD.replace("table: deals", "table: " + "x" * 1_000_000).encode())
    started = time.monotonic()
    error = load(folder)
    assert time.monotonic() - started < 1.0
    assert len(str(error)) < 1_000


def test_limits_are_raised_by_variable_or_project_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = "metrics: " + "[" * 70 + "]" * 70 + "\n"  # 71 levels with the mapping: over 64
    folder = write_bytes(tmp_path, nested.encode())
    assert load(folder).issues[0].code == "yaml-limit"
    monkeypatch.setenv("CRMETRICS_MAX_DEPTH", "100")
    assert load(folder).issues[0].code == "schema"  # read now; a list of lists is no metric
    monkeypatch.delenv("CRMETRICS_MAX_DEPTH")

    project = tmp_path / "crmetrics.yaml"
    project.write_text("definitions: [defs]\nlimits:\n  max_depth: 100\n")
    with pytest.raises(DefinitionError) as caught:
        Engine(project=load_project(project), load_installed_plugins=False).validate()
    assert caught.value.issues[0].code == "schema"


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_limit_must_be_a_positive_whole_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CRMETRICS_MAX_DEPTH", value)
    with pytest.raises(UsageError, match="CRMETRICS_MAX_DEPTH must be a positive whole number"):
        Limits.from_env()


def test_formula_length_is_limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    long_formula = "sum(amount" + " + amount" * 20 + ")"  # 10 + 9 * 20 + 1 = 191 characters
    folder = write_bytes(tmp_path, GOOD.replace("sum(amount)", long_formula).encode())
    monkeypatch.setenv("CRMETRICS_MAX_FORMULA_CHARS", "190")
    issue = load(folder).issues[0]
    assert issue.code == "formula-too-long"
    assert issue.message == "this formula has 191 characters, more than the limit of 190"
    monkeypatch.setenv("CRMETRICS_MAX_FORMULA_CHARS", "191")
    Engine(definitions=[folder], load_installed_plugins=False).validate()


def chain(length: int) -> str:
    """``c0`` counts deals; each ``c<i>`` is the one before plus one."""
    lines = [GOOD.replace("deal_total", "c0").rstrip("\n")]
    lines += [f"  - name: c{i}\n    type: derived\n    expr: c{i - 1} + 1" for i in range(1, length + 1)]
    return "\n".join(lines) + "\n"


def test_metric_reach_is_limited_once_where_first_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_bytes(tmp_path, chain(12).encode())
    monkeypatch.setenv("CRMETRICS_MAX_METRIC_REACH", "10")
    error = load(folder)
    # c10 reaches c0..c9 (10 metrics); c11 reaches 11, the first past the limit; c12 follows.
    assert [(i.code, i.subject) for i in error.issues] == [("metric-reach", "c11")]


def test_a_chain_of_1500_metrics_validates_quickly(tmp_path: Path) -> None:
    folder = write_bytes(tmp_path, chain(1_500).encode())
    started = time.monotonic()
    catalog = Engine(definitions=[folder], load_installed_plugins=False).validate()
    assert time.monotonic() - started < 10.0  # once quadratic, and recursive past ~1,000
    order = catalog.closure(["c1500"])
    assert order[0] == "c0" and order[-1] == "c1500" and len(order) == 1_501


def test_explaining_a_diamond_does_not_expand_it_twice(tmp_path: Path) -> None:
    lines = [GOOD.replace("deal_total", "d0").rstrip("\n")]
    for i in range(1, 31):
        lines.append(f"  - name: d{i}\n    type: derived\n    expr: d{i - 1} * 2 + d{i - 1}")
    folder = write_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    catalog = Engine(definitions=[folder], load_installed_plugins=False).validate()
    assert len(list(catalog.tree("d30"))) == 31  # each metric once: d30, d29, ..., d0


def test_non_finite_parameters_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("sum(amount)", "sum(amount) * rate") + "    params:\n      rate: .inf\n"
    issue = load(write_bytes(tmp_path, text.encode())).issues[0]
    assert (issue.code, issue.location.line if issue.location else 0) == ("bad-param", 8)
    assert issue.message == "parameter 'rate' must be a finite number, not inf"


PROJECTS = {
    "binary": (b"\x00\x01\x02\xff", "not-utf8"),
    "a list": (b"- a\n- b\n", "schema"),
    "a scalar": (b"hello\n", "schema"),
    "an alias bomb": (ALIAS_BOMB.encode(), "yaml-limit"),
    "infinite parameter": (b"params:\n  deal_total.rate: .nan\n", "bad-param"),
    "unknown limit": (b"limits:\n  max_everything: 3\n", "schema"),
}


@pytest.mark.parametrize(("content", "code"), PROJECTS.values(), ids=PROJECTS.keys())
def test_a_hostile_project_file_is_a_located_error(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "crmetrics.yaml"
    path.write_bytes(content)
    with pytest.raises(DefinitionError) as caught:
        load_project(path)
    assert caught.value.issues[0].code == code
    assert caught.value.issues[0].location is not None
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and str(path.name) in result.stderr


def test_the_cli_says_the_same(tmp_path: Path) -> None:
    folder = write_bytes(tmp_path, ALIAS_BOMB.encode())
    result = CliRunner().invoke(main, ["validate", "--definitions", str(folder)])
    assert result.exit_code == 2
    assert "yaml-limit" not in result.stderr  # codes are data; the message is a sentence
    # Line k (from 1) holds 9**k nodes once expanded: line 6 has 531,441, line 7 (g, its
    # value starting at column 4 after "g: ") 4,782,969, the first past a million.
    assert "metrics.yaml:7:4: error: this value expands to more than 1,000,000 YAML nodes" in result.stderr


def test_a_null_or_number_key_is_a_located_schema_error(tmp_path: Path) -> None:
    # Keys null, 3 and zzz on lines 7, 8 and 9; they sort as text ("3" < "None" < "zzz"),
    # and the first unknown key is reported, at its own line, column 5.
    text = GOOD + "    ~: 1\n    3: 2\n    zzz: 3\n"
    issues = load(write_bytes(tmp_path, text.encode())).issues
    assert [(i.code, i.message, i.location) for i in issues] == [
        ("schema", "unknown key 3", Location(str(tmp_path / "defs" / "metrics.yaml"), 8, 5))
    ]
