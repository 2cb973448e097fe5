"""Reading YAML with positions: YAML 1.2 scalars, duplicate keys, and locations."""

from __future__ import annotations

import pytest

from crmetrics.errors import DefinitionError, Location
from crmetrics.yamlio import load_text


def test_yes_on_and_dates_stay_text_as_in_yaml_1_2() -> None:
    document = load_text("a: yes\nb: on\nc: 2025-01-01\nd: true\ne: 1.5\n", "f.yaml")
    assert document.data == {"a": "yes", "b": "on", "c": "2025-01-01", "d": True, "e": 1.5}


def test_a_repeated_key_is_refused_where_it_is_repeated() -> None:
    text = "metrics:\n  - name: a\n    type: derived\n    type: aggregate\n"
    with pytest.raises(DefinitionError) as raised:
        load_text(text, "f.yaml")
    issue = raised.value.issues[0]
    # The second 'type' starts line 4, column 5 (after four spaces).
    assert issue.location == Location("f.yaml", 4, 5)
    assert "'type' is written twice" in issue.message


def test_locations_of_keys_values_items_and_missing_keys() -> None:
    text = "metrics:\n  - name: a\n    expr: 'x + 1'\n"
    document = load_text(text, "f.yaml")
    assert document.location(["metrics", 0, "name"]) == Location("f.yaml", 2, 11)
    assert document.location(["metrics", 0, "name"], key=True) == Location("f.yaml", 2, 5)
    assert document.location(["metrics", 0]) == Location("f.yaml", 2, 5)
    # A missing key points at its closest parent that exists.
    assert document.location(["metrics", 0, "time"]) == Location("f.yaml", 2, 5)
    location, style = document.value_location(["metrics", 0, "expr"])
    assert (location, style) == (Location("f.yaml", 3, 11), "'")


def test_an_empty_file_has_no_data() -> None:
    document = load_text("# nothing\n", "f.yaml")
    assert document.is_empty and document.data is None
