"""Checking YAML documents against the shipped JSON Schemas, every error at its place.

All errors are collected (never only the first), sorted by position, and rewritten into
sentences that say which key is wrong and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import fastjsonschema

from crmetrics import schema_accept
from crmetrics.errors import Issue, did_you_mean
from crmetrics.yamlio import Document

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_FILES = {"definitions": "definitions.schema.json", "project": "project.schema.json"}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema named ``name`` (``definitions`` or ``project``), as shipped."""
    return json.loads(_schema_text(name))


@cache
def _schema_text(name: str) -> str:
    return (resources.files("crmetrics") / "schema" / SCHEMA_FILES[name]).read_text(encoding="utf-8")


@cache
def _generated_check_is_current() -> bool:
    """Whether ``crmetrics.schema_accept`` was generated from the shipped definitions schema."""
    digest = hashlib.sha256(_schema_text("definitions").encode()).hexdigest()
    return bool(digest == schema_accept.SCHEMA_SHA256)


def _generated_check_accepts(data: Any) -> bool:
    """The shipped compiled check's verdict on a definitions document; False when unsure."""
    if not _generated_check_is_current():
        return False
    try:
        schema_accept.validate(data)
    except Exception:  # a refusal, or a value the generated code does not expect (a key that
        return False  # is not text): either way jsonschema checks the document and says why
    return True


@cache
def _fast_validator(name: str, definition: str | None = None) -> Callable[[Any], object]:
    """Compiled code that accepts or refuses a document (or one of its ``definitions``)."""
    # fastjsonschema rewrites the refs of the schema it is given into absolute ones; the
    # shipped schemas are shared (connector options reuse the project's definitions).
    return fastjsonschema.compile(copy.deepcopy(_schema_for(name, definition)))


@cache
def _schema_for(name: str, definition: str | None) -> dict[str, Any]:
    """The shipped schema ``name``, or a schema for one of its ``definitions`` (e.g. a metric)."""
    schema = load_schema(name)
    if definition is None:
        return schema
    # Under draft 7 a $ref beside $id would hide the $id, and the refs inside would not
    # resolve: the reference goes one level down instead.
    # The keys that constrain the whole document (its type, "metrics" or "tests") go too.
    whole = {k: v for k, v in schema.items() if k not in ("type", "required", "anyOf", "properties")}
    return {**whole, "additionalProperties": True, "allOf": [{"$ref": f"#/definitions/{definition}"}]}


@cache
def _without_items(name: str) -> dict[str, Any]:
    """The definitions schema with the metrics left unchecked: they are checked one by one."""
    schema = dict(load_schema(name))
    schema["properties"] = {**schema["properties"], "metrics": {"type": "array"}}
    return schema


def _shipped(schema: Mapping[str, Any]) -> str | None:
    return next((name for name in SCHEMA_FILES if schema is load_schema(name)), None)


def check_document(document: Document, schema: Mapping[str, Any], *, what: str = "definition") -> list[Issue]:
    """Every schema violation in ``document``, as issues with file:line:column.

    A definitions file is first checked by compiled code shipped with crmetrics
    (``crmetrics.schema_accept``, generated from the schema), which only says yes or no
    but takes a fraction of jsonschema's time; should the shipped code not match the
    schema, code compiled from the schema on first use says it instead. What is refused is
    walked by jsonschema, which collects every error with its path; in a large file metric
    by metric, each refused by code compiled on first use, so one wrong metric among
    thousands costs one metric's walk.
    """
    name = _shipped(schema)
    if name == "definitions":
        accepted = (
            _generated_check_accepts(document.data)
            if _generated_check_is_current()
            else _accepts(_fast_validator(name), document.data)
        )
        if accepted:
            return []
    metrics = document.data.get("metrics") if isinstance(document.data, dict) else None
    if name != "definitions" or not isinstance(metrics, list) or not _is_large(metrics):
        return _issues(document, _draft7(schema).iter_errors(document.data))
    errors = list(_draft7(_without_items(name)).iter_errors(document.data))
    metric_validator = _draft7(_schema_for(name, "metric"))
    for index, metric in enumerate(metrics):
        if not _accepts(_fast_validator(name, "metric"), metric):
            for error in metric_validator.iter_errors(metric):
                error.path.extendleft([index, "metrics"])  # where the metric is in the file
                errors.append(error)
    return _issues(document, iter(errors))


def _draft7(schema: Mapping[str, Any]) -> jsonschema.Draft7Validator:
    """jsonschema's validator of ``schema``, imported on first use.

    Importing jsonschema costs about 30 ms, and a definitions file the shipped check
    accepts never needs it: only refused files and project files are walked by it.
    """
    import jsonschema

    return jsonschema.Draft7Validator(schema)


# Compiling the fast check costs about 70 ms of CPU once per process, while jsonschema walks
# a metric in about 0.2 ms: the compiled check pays for itself only on large files, and the
# catalog and ordinary projects load without it.
FAST_CHECK_FROM = 400


def _is_large(metrics: object) -> bool:
    return isinstance(metrics, list) and len(metrics) >= FAST_CHECK_FROM


def _accepts(validator: Callable[[Any], object], data: Any) -> bool:
    try:
        validator(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _issues(document: Document, errors: Iterator[ValidationError]) -> list[Issue]:
    issues = []
    for error in _leaf_errors(errors):
        path = list(error.absolute_path)
        on_key = error.validator in ("additionalProperties", "propertyNames")
        if error.validator == "additionalProperties":
            extra = _extra_keys(error)
            if extra:
                path = [*path, extra[0]]
        issues.append(
            Issue(
                "schema",
                _sentence(error, document),
                document.location(path, key=on_key),
                subject=_subject(document.data, path),
                hint=_hint(error),
            )
        )
    return sorted(issues, key=lambda i: (i.location or (), i.message))


def _is_required_choice(error: ValidationError) -> bool:
    """The document's top ``anyOf``: branches that each require one key, none present."""
    return (
        error.validator == "anyOf"
        and not error.absolute_path
        and bool(error.context)
        and all(e.validator == "required" and not e.relative_path for e in error.context or ())
    )


def _leaf_errors(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    # An if/then or anyOf failure wraps the errors that matter; report those.
    for error in errors:
        if _is_required_choice(error):
            # A file must hold "metrics" or "tests": one issue naming both, not one per branch.
            yield error
        elif error.context and error.validator in ("anyOf", "oneOf", "allOf"):
            # A branch for another type of value (a string where a mapping was written) says
            # nothing useful when a branch of the right type found the real mistake.
            branches = list(error.context)
            deeper = [e for e in branches if not (e.validator == "type" and not e.relative_path)]
            yield from _leaf_errors(iter(deeper or branches))
        else:
            yield error


#: The pattern of every name in the schema (metrics, parameters, measures).
NAME_PATTERN = "^[a-z][a-z0-9_]*$"


def _schema(error: ValidationError) -> Mapping[str, Any]:
    """The (sub)schema ``error`` was checked against; a boolean schema has no keys."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _values(error: ValidationError) -> list[Any]:
    """The list a validator holds (``enum``, ``required``), as a list."""
    value = error.validator_value
    return list(value) if isinstance(value, (list, tuple)) else []


def _extra_keys(error: ValidationError) -> list[str]:
    allowed = set(_schema(error).get("properties", {}))
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return sorted((k for k in instance if k not in allowed), key=str)  # a key may be null or a number


def _subject(data: Any, path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "metrics" and isinstance(path[1], int):
        try:
            return f"metric {data['metrics'][path[1]].get('name', '#' + str(path[1] + 1))}"
        except (KeyError, IndexError, AttributeError, TypeError):
            return ""
    return ""


def _key_name(error: ValidationError) -> str:
    path = list(error.absolute_path)
    return str(path[-1]) if path and isinstance(path[-1], str) else ""


def _sentence(error: ValidationError, document: Document) -> str:
    key = _key_name(error)
    instance = error.instance
    if error.validator == "additionalProperties":
        extra = _extra_keys(error)
        return f"unknown key {_shown(extra[0])}" if extra else _clip(error.message)
    if _is_required_choice(error):
        keys = _not_keys(_schema(error))
        return f"missing required key: {' or '.join(map(repr, keys))}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        kind = instance.get("type") if isinstance(instance, dict) else None
        of = f" for {_a(kind)} metric" if kind and error.absolute_path else ""
        return f"missing required key {missing!r}{of}"
    if error.validator == "not":
        kind = instance.get("type") if isinstance(instance, dict) else None
        banned = [
            k
            for k in _not_keys(error.validator_value if isinstance(error.validator_value, Mapping) else {})
            if isinstance(instance, dict) and k in instance
        ]
        return f"key {', '.join(map(repr, banned))} does not apply to {_a(kind)} metric"
    if error.validator == "enum":
        return f"{key or 'value'} {_shown(instance)} is not allowed"
    if error.validator == "const":
        return f"{key or 'value'} must be {error.validator_value!r}"
    if error.validator == "type":
        expected = _article(error.validator_value)
        if key == "metrics" and error.validator_value == "array":
            expected = "a list of metrics"
        if instance is None:
            return f"{key or 'value'}: is empty; expected {expected}"
        return f"{key or 'value'}: is {_yaml_kind(instance)} ({_yaml_text(instance)}); expected {expected}"
    if error.validator == "pattern" and error.validator_value != NAME_PATTERN:
        # Not a name: the schema node says in words what the text must look like.
        return f"{key or 'value'} {_shown(instance)} is not {_schema(error).get('description', 'allowed')}"
    if error.validator == "pattern":
        return f"{key or 'name'} {_shown(instance)} is not a valid name"
    if error.validator == "propertyNames":
        return f"{_shown(instance)} is not a valid name"
    if error.validator == "minLength":
        return f"{key or 'value'} must not be empty"
    return _clip(error.message)


def _hint(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = _extra_keys(error)
        allowed = sorted(_schema(error).get("properties", {}))
        return did_you_mean(extra[0], allowed) if extra else ""
    if error.validator == "enum":
        options = [str(v) for v in _values(error)]
        close = did_you_mean(str(error.instance), options)
        return close if close.startswith("did") else "allowed: " + ", ".join(options)
    if error.validator == "pattern" and error.validator_value != NAME_PATTERN:
        return ""
    if error.validator in ("pattern", "propertyNames"):
        return "use lower-case letters, digits and underscores, starting with a letter"
    if error.validator == "not":
        return "remove the key, or change the metric's type"
    if _is_required_choice(error) and set(_not_keys(_schema(error))) == {"metrics", "tests"}:
        return "a definitions file holds 'metrics:' (and may hold 'tests:'); a file of cases alone, 'tests:'"
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        kind = instance.get("type") if error.absolute_path else None
        needed = ", ".join(str(k) for k in _values(error))
        return f"{_a(kind)} metric needs: {needed}" if kind else f"required keys: {needed}"
    return ""


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _shown(value: object) -> str:
    """``value`` as written in a message, cut short: a megabyte value must not flood it."""
    return _clip(repr(value))


def _a(kind: object) -> str:
    """``kind`` quoted, with its indefinite article: ``an 'aggregate'``, ``a 'derived'``."""
    return f"{'an' if str(kind)[:1].lower() in 'aeiou' else 'a'} {_shown(kind)}"


def _not_keys(schema: Mapping[str, Any]) -> list[str]:
    return [k for branch in schema.get("anyOf", []) for k in branch.get("required", [])]


def _yaml_kind(value: Any) -> str:
    """What a YAML reader calls ``value``'s kind (never a Python type name)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value"


def _yaml_text(value: Any) -> str:
    """``value`` written the way YAML shows it, shortened."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _article(kind: Any) -> str:
    if isinstance(kind, list):
        return " or ".join(_article(k) for k in kind)
    return {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "number": "a number",
        "integer": "an integer",
        "boolean": "true or false",
    }.get(kind, str(kind))
