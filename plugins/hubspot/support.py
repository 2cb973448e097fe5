"""Tickets, feedback submissions as survey responses, and engagements as activity.

HubSpot tickets record the first agent reply (or the milliseconds until it) but no handle
time; by default it is the summed duration of the calls associated with the ticket.
Feedback submissions carry a survey type and a score as text; which survey counts as NPS,
CSAT or CES, and the scale a portal's CSAT uses, are options.
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.model import SURVEY_SCALES
from crmetrics.plugins.crm_common.files import concat_text
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    column,
    first_of,
    number,
    snake,
    timestamp,
)
from crmetrics.plugins.crm_common.mapping import apply_mapping, builtin, user_mapping
from crmetrics.plugins.hubspot.objects import Objects, primary

_STAMP = pl.Datetime("us", "UTC")
_ACTIVITY = ("activity_id", "customer_id", "occurred_at", "activity_type")


def tickets(data: Objects) -> RawTable:
    """The tickets table."""
    settings = data.settings["tickets"]
    builder = TableBuilder("tickets", data.where("tickets"))
    rows = data.rows("tickets", builder)
    created = first_of(rows, "createdate", "createdat")
    waited = number(column(rows, "time_to_first_agent_reply"))
    replied = [
        timestamp(column(rows, "first_agent_reply_date")),
        timestamp(created) + pl.duration(milliseconds=waited.round(0).cast(pl.Int64)),
    ]
    if settings["first_response_field"]:
        replied.insert(0, timestamp(column(rows, settings["first_response_field"])))
    handle: pl.Expr = pl.lit(None, dtype=pl.Float64)
    if settings["handle_time"] == "field":
        handle = number(column(rows, settings["handle_time_field"]))
    elif settings["handle_time"] == "calls":
        rows = rows.join(_call_seconds(data), left_on="id", right_on="__ticket", how="left")
        handle = pl.col("__seconds")
    rows = rows.with_columns(
        primary(rows, "companies").alias("derived.customer_id"),
        pl.coalesce(replied).alias("derived.first_response_at"),
        handle.alias("derived.handle_time_seconds"),
    )
    mapping = builtin(
        "tickets",
        {
            "ticket_id": "id",
            "customer_id": "derived.customer_id",
            "created_at": ColumnSpec(expr="COALESCE(createdate, createdat)"),
            "first_response_at": "derived.first_response_at",
            "resolved_at": "closed_date",
            "handle_time_seconds": "derived.handle_time_seconds",
            "channel": ColumnSpec(field="source_type", values=settings["channel_map"]),
            "priority": ColumnSpec(expr="LOWER(TRIM(hs_ticket_priority))"),
        },
        user=user_mapping(data.settings, "tickets"),
    )
    frame = apply_mapping(
        builder, rows, mapping, currency=data.settings["currency"], hints={"channel": "tickets.channel_map"}
    )
    return builder.result(frame)


def _call_seconds(data: Objects) -> pl.DataFrame:
    """Summed call duration (milliseconds in HubSpot) per associated ticket, in seconds."""
    schema = {"__ticket": pl.String, "__seconds": pl.Float64}
    calls = data.current("calls", optional=True)
    if not calls.width or "assoc.tickets" not in calls.columns:
        return pl.DataFrame(schema=schema)
    return (
        calls.select(
            pl.col("assoc.tickets").str.split(";").alias("__ticket"),
            (number(column(calls, "hs_call_duration")) / 1000).alias("__seconds"),
        )
        .explode("__ticket")
        .filter(pl.col("__ticket").is_not_null() & pl.col("__seconds").is_not_null())
        .group_by("__ticket")
        .agg(pl.col("__seconds").sum())
        .cast(schema)
    )


def survey_responses(data: Objects) -> RawTable:
    """The survey responses table, from feedback submissions."""
    settings = data.settings["surveys"]
    builder = TableBuilder("survey_responses", data.where("feedback_submissions"))
    rows = data.rows("feedback_submissions", builder)
    types = {str(k).strip().lower(): v for k, v in settings["survey_types"].items()}
    kinds = [
        column(rows, name)
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(types, default=None, return_dtype=pl.String)
        for name in ("hs_survey_id", "hs_survey_name", "hs_survey_type")
    ]
    rows = rows.with_columns(pl.coalesce(kinds).alias("__type"))
    unknown = rows.filter(pl.col("__type").is_null())
    if unknown.height:
        label = first_of(unknown, "hs_survey_name", "hs_survey_type").alias("survey")
        counts = unknown.select(label)["survey"].value_counts(sort=True)
        shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(5).iter_rows())
        builder.warn(
            "unknown-survey-type",
            f"survey_responses: {unknown.height} response(s) to surveys that are not NPS, CSAT "
            f"or CES, left out: {shown}",
            subject="survey_responses.survey_type",
            hint="map a survey id, name or type to nps, csat or ces under options.surveys.survey_types",
        )
        rows = builder.reject(rows, pl.col("__type").is_null(), "survey type not nps, csat or ces")
    if "hs_contact_id" in rows.columns:
        rows = rows.join(_contact_companies(data), left_on="hs_contact_id", right_on="__contact", how="left")
    rows = rows.with_columns(
        pl.coalesce(primary(rows, "companies"), column(rows, "__company")).alias("derived.customer_id"),
        pl.col("__type").alias("derived.survey_type"),
        _score(rows, settings["scales"]).alias("derived.score"),
    )
    mapping = builtin(
        "feedback_submissions",
        {
            "response_id": "id",
            "customer_id": "derived.customer_id",
            "survey_type": "derived.survey_type",
            "score": "derived.score",
            "submitted_at": ColumnSpec(expr="COALESCE(hs_submission_timestamp, hs_createdate, createdat)"),
        },
        user=user_mapping(data.settings, "survey_responses"),
    )
    return builder.result(apply_mapping(builder, rows, mapping, currency=data.settings["currency"]))


def _score(rows: pl.DataFrame, scales: dict[str, list[float]]) -> pl.Expr:
    """The score, mapped linearly from a portal's own scale where one is configured."""
    raw = column(rows, "hs_value")
    score: pl.Expr = raw.cast(pl.String)
    for kind, (low, high) in scales.items():
        to_low, to_high = SURVEY_SCALES[kind]
        rescaled = to_low + (number(raw) - low) * (to_high - to_low) / (high - low)
        score = (
            pl.when((pl.col("__type") == kind) & number(raw).is_not_null())
            .then(rescaled.cast(pl.String))
            .otherwise(score)
        )
    return score


def _contact_companies(data: Objects) -> pl.DataFrame:
    contacts = data.current("contacts", optional=True)
    if not contacts.width:
        return pl.DataFrame(schema={"__contact": pl.String, "__company": pl.String})
    return contacts.select(
        pl.col("id").alias("__contact"),
        first_of(contacts, "associatedcompanyid")
        .fill_null(primary(contacts, "companies"))
        .alias("__company"),
    ).unique("__contact", keep="last")


def activity(data: Objects) -> RawTable:
    """The activity table, from engagements of every kind configured."""
    names = [n for n in data.settings["activity"]["objects"] if data.has(n)]
    builder = TableBuilder("activity", ", ".join(data.where(n) for n in names) or data.source.origin)
    user = user_mapping(data.settings, "activity")
    frames = []
    for name in names:
        rows = data.rows(name, builder, optional=True)
        if not rows.width:
            continue
        kind = snake(column(rows, "engagement_type")) if name == "engagements" else pl.lit(name[:-1])
        rows = rows.with_columns(
            primary(rows, "companies").alias("derived.customer_id"),
            first_of(rows, "hs_timestamp", "createdat").alias("derived.occurred_at"),
            kind.alias("derived.activity_type"),
        )
        mapping = builtin(
            name,
            {
                "activity_id": "id",
                "customer_id": "derived.customer_id",
                "occurred_at": "derived.occurred_at",
                "activity_type": "derived.activity_type",
            },
            user={k: v for k, v in (user or {}).items() if k != "object"},
        )
        frames.append(apply_mapping(builder, rows, mapping, currency=data.settings["currency"]))
    frame = concat_text(frames) if frames else pl.DataFrame(schema=dict.fromkeys(_ACTIVITY, pl.String))
    return builder.result(frame)
