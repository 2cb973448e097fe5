"""Cases as canonical tickets, and tasks and events as activity.

A Case has no first-response timestamp and no handle time. Each is taken from the first
source, in the configured order, that has a value for the case: the completion of a named
entitlement milestone, the first outgoing email, or a field of the org's own (first
response); Omni-Channel AgentWork, call tasks logged on the case, or a field (handle time).
"""

from __future__ import annotations

import polars as pl

from crmetrics.connector import RawTable
from crmetrics.mapping import ColumnSpec
from crmetrics.plugins.crm_common.files import concat_text
from crmetrics.plugins.crm_common.frames import (
    TableBuilder,
    column,
    first_of,
    number,
    snake,
    timestamp,
    truthy,
)
from crmetrics.plugins.crm_common.mapping import builtin, user_mapping
from crmetrics.plugins.salesforce.objects import Objects

_STAMP = pl.Datetime("us", "UTC")


def tickets(data: Objects) -> RawTable:
    """The tickets table, from cases."""
    settings = data.settings["tickets"]
    builder = TableBuilder("tickets", data.where("Case"))
    cases = data.rows("Case", builder)
    responses = {
        "milestone": _milestone_completions(data),
        "outgoing_email": _first_outgoing_emails(data),
    }
    handle_times = {"agent_work": _agent_work(data), "call_tasks": _call_tasks(data)}
    first_response: list[pl.Expr] = []
    for source in settings["first_response"]:
        if source == "field":
            first_response.append(timestamp(column(cases, settings["first_response_field"])))
            continue
        found = responses[source].rename({"__value": f"__fr_{source}"})
        cases = cases.join(found, left_on="id", right_on="__case", how="left")
        first_response.append(pl.col(f"__fr_{source}"))
    handle_time: list[pl.Expr] = []
    for source in settings["handle_time"]:
        if source == "field":
            handle_time.append(number(column(cases, settings["handle_time_field"])))
            continue
        found = handle_times[source].rename({"__value": f"__ht_{source}"})
        cases = cases.join(found, left_on="id", right_on="__case", how="left")
        handle_time.append(pl.col(f"__ht_{source}"))
    cases = cases.with_columns(
        _first(first_response, _STAMP).alias("derived.first_response_at"),
        _first(handle_time, pl.Float64()).alias("derived.handle_time_seconds"),
    )
    mapping = builtin(
        "Case",
        {
            "ticket_id": "Id",
            "customer_id": "AccountId",
            "created_at": "CreatedDate",
            "first_response_at": "derived.first_response_at",
            "resolved_at": "ClosedDate",
            "handle_time_seconds": "derived.handle_time_seconds",
            "channel": ColumnSpec(field="Origin", values=settings["channel_map"]),
            "priority": ColumnSpec(expr="LOWER(TRIM(Priority))"),
        },
        user=user_mapping(data.settings, "tickets"),
    )
    frame = data.apply(builder, cases, mapping, hints={"channel": "tickets.channel_map"})
    return builder.result(frame)


def _first(values: list[pl.Expr], dtype: pl.DataType) -> pl.Expr:
    if not values:
        return pl.lit(None, dtype=dtype)
    return pl.coalesce(values) if len(values) > 1 else values[0]


def _per_case(frame: pl.DataFrame, case: str, value: pl.Expr, how: str, dtype: pl.DataType) -> pl.DataFrame:
    schema = pl.Schema({"__case": pl.String(), "__value": dtype})
    if not frame.width or case not in frame.columns:
        return pl.DataFrame(schema=schema)
    total = pl.col("__value").min() if how == "min" else pl.col("__value").sum()
    return (
        frame.with_columns(value.alias("__value"))
        .filter(pl.col(case).is_not_null() & pl.col("__value").is_not_null())
        .group_by(case)
        .agg(total)
        .rename({case: "__case"})
        .cast(schema)
    )


def _milestone_completions(data: Objects) -> pl.DataFrame:
    """Earliest completion of the configured milestone type, per case."""
    milestones = data.current("CaseMilestone")
    wanted = data.settings["tickets"]["first_response_milestone"].strip().lower()
    if milestones.width and "milestonetype.name" not in milestones.columns:
        types = data.current("MilestoneType")
        if types.width and "name" in types.columns and "milestonetypeid" in milestones.columns:
            milestones = milestones.join(
                types.select(
                    pl.col("id").alias("milestonetypeid"), pl.col("name").alias("milestonetype.name")
                ),
                on="milestonetypeid",
                how="left",
            )
    if milestones.width:
        name = column(milestones, "milestonetype.name").str.strip_chars().str.to_lowercase()
        milestones = milestones.filter(name == wanted)
    return _per_case(milestones, "caseid", timestamp(column(milestones, "completiondate")), "min", _STAMP)


def _first_outgoing_emails(data: Objects) -> pl.DataFrame:
    emails = data.current("EmailMessage")
    if emails.width:
        emails = emails.filter(truthy(column(emails, "incoming")).eq(False))
    return _per_case(emails, "parentid", timestamp(column(emails, "messagedate")), "min", _STAMP)


def _agent_work(data: Objects) -> pl.DataFrame:
    work = data.current("AgentWork")
    return _per_case(work, "workitemid", number(column(work, "handletime")), "sum", pl.Float64())


def _call_tasks(data: Objects) -> pl.DataFrame:
    tasks = data.current("Task")
    if tasks.width:
        kind = snake(first_of(tasks, "tasksubtype", "type"))
        tasks = tasks.filter(kind == "call")
    return _per_case(tasks, "whatid", number(column(tasks, "calldurationinseconds")), "sum", pl.Float64())


def activity(data: Objects) -> RawTable:
    """The activity table, from tasks, events and emails."""
    names = [n for n in data.settings["activity"]["objects"] if data.has(n)]
    builder = TableBuilder("activity", ", ".join(data.where(n) for n in names) or data.source.origin)
    user = user_mapping(data.settings, "activity")
    frames = []
    for name in names:
        rows = data.rows(name, builder)
        kind = snake(first_of(rows, "type", "tasksubtype"))
        rows = rows.with_columns(
            first_of(rows, "activitydatetime", "activitydate", "createddate").alias("derived.occurred_at"),
            pl.coalesce(kind, pl.lit(name.lower())).alias("derived.activity_type"),
        )
        mapping = builtin(
            name,
            {
                "activity_id": "Id",
                "customer_id": "AccountId",
                "occurred_at": "derived.occurred_at",
                "activity_type": "derived.activity_type",
            },
            user={k: v for k, v in (user or {}).items() if k != "object"},
        )
        frames.append(data.apply(builder, rows, mapping))
    return builder.result(
        concat_text(frames)
        if frames
        else pl.DataFrame(
            schema=dict.fromkeys(("activity_id", "customer_id", "occurred_at", "activity_type"), pl.String)
        )
    )
