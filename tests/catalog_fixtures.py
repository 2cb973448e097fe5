"""Small hand-made canonical tables for the catalog acceptance tests.

Every row is listed with the facts the tests rely on, so each expected number in
test_catalog.py can be re-derived from this file with pencil and paper.

Some timestamp columns are given as ISO strings (with ``Z`` or ``+02:00`` offsets, or a
bare date meaning midnight UTC), others as timezone-aware ``datetime`` values, so both
input forms are exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

TS = pl.Datetime("us", "UTC")
STR = pl.String
F64 = pl.Float64
BOOL = pl.Boolean


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> datetime:
    """A timezone-aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def table(schema: dict[str, pl.DataType], rows: list[tuple]) -> pl.DataFrame:
    """A frame with exactly ``schema``, one tuple per row."""
    return pl.DataFrame(rows, schema=schema, orient="row")


# Schemas with real datetime columns (used for empty tables and datetime-typed fixtures).
CUSTOMERS_SCHEMA = {"customer_id": STR, "segment": STR, "acquired_at": TS, "churned_at": TS}
REVENUE_SCHEMA = {
    "revenue_id": STR,
    "customer_id": STR,
    "recognized_at": TS,
    "amount": F64,
    "cost": F64,
}
SPEND_SCHEMA = {"spend_id": STR, "spent_at": TS, "category": STR, "amount": F64}
DEALS_SCHEMA = {
    "deal_id": STR,
    "customer_id": STR,
    "stage": STR,
    "is_closed": BOOL,
    "is_won": BOOL,
    "deal_type": STR,
    "created_at": TS,
    "closed_at": TS,
}
LEADS_SCHEMA = {
    "lead_id": STR,
    "created_at": TS,
    "is_converted": BOOL,
    "converted_at": TS,
    "customer_id": STR,
}
TICKETS_SCHEMA = {"ticket_id": STR, "customer_id": STR, "created_at": TS, "first_response_at": TS}
SURVEYS_SCHEMA = {
    "response_id": STR,
    "customer_id": STR,
    "survey_type": STR,
    "score": F64,
    "submitted_at": TS,
}
ACTIVITY_SCHEMA = {"activity_id": STR, "customer_id": STR, "occurred_at": TS}

ALL_SCHEMAS = {
    "customers": CUSTOMERS_SCHEMA,
    "revenue": REVENUE_SCHEMA,
    "spend": SPEND_SCHEMA,
    "deals": DEALS_SCHEMA,
    "leads": LEADS_SCHEMA,
    "tickets": TICKETS_SCHEMA,
    "survey_responses": SURVEYS_SCHEMA,
    "activity": ACTIVITY_SCHEMA,
}


def empty_source() -> dict[str, pl.DataFrame]:
    """Every canonical table the catalog reads, with no rows at all."""
    return {name: table(schema, []) for name, schema in ALL_SCHEMAS.items()}


# ---------------------------------------------------------------------------------------
# The main fixture: eight customers over December 2024 .. April 2025.
# ---------------------------------------------------------------------------------------


def main_customers() -> pl.DataFrame:
    """Customers, timestamps as ISO strings.

    C1 SMB         acquired 2024-12-15 (bare date = midnight UTC), never churned
    C2 SMB         acquired 2024-11-01, churned 2025-02-10T12:00Z          (lost in Feb)
    C3 Enterprise  acquired 2024-10-05, never churned
    C4 Enterprise  acquired exactly 2025-02-01T00:00Z                      (new in Feb)
    C5 SMB         acquired 2024-12-20, churned exactly 2025-03-01T00:00Z  (lost in Mar)
    C6 Mid-Market  acquired 2025-01-10, churned 2025-01-25                 (new+lost in Jan)
    C7 SMB         acquired 2025-03-01T01:00+02:00 = 2025-02-28T23:00Z     (new in Feb)
    C8 Enterprise  acquired 2025-03-15                                     (new in Mar)
    """
    return table(
        {"customer_id": STR, "segment": STR, "acquired_at": STR, "churned_at": STR},
        [
            ("C1", "SMB", "2024-12-15", None),
            ("C2", "SMB", "2024-11-01T00:00:00Z", "2025-02-10T12:00:00Z"),
            ("C3", "Enterprise", "2024-10-05T08:30:00Z", None),
            ("C4", "Enterprise", "2025-02-01T00:00:00Z", None),
            ("C5", "SMB", "2024-12-20T00:00:00Z", "2025-03-01T00:00:00Z"),
            ("C6", "Mid-Market", "2025-01-10T00:00:00Z", "2025-01-25T00:00:00Z"),
            ("C7", "SMB", "2025-03-01T01:00:00+02:00", None),
            ("C8", "Enterprise", "2025-03-15T00:00:00Z", None),
        ],
    )


def main_revenue() -> pl.DataFrame:
    """Revenue lines.

    Dec 2024: R01 C1 100 (cost 40), R02 C3 300 (cost 100)                 -> 400
    Jan 2025: R1 C1 100 (30), R2 C2 200 (50), R3 C3 300 (null cost),
              R4 C1 100 (20), R5 C6 100 (0)                                -> 800, cost 100
    Feb 2025: R6 C3 500 (250) at exactly 2025-02-01T00:00Z, R7 C4 400 (50) -> 900, cost 300
    Mar 2025: nothing
    Apr 2025: R9 C1 999 (0) at exactly 2025-04-01T00:00Z (not March)
    """
    return table(
        REVENUE_SCHEMA,
        [
            ("R01", "C1", utc(2024, 12, 20), 100.0, 40.0),
            ("R02", "C3", utc(2024, 12, 5), 300.0, 100.0),
            ("R1", "C1", utc(2025, 1, 5), 100.0, 30.0),
            ("R2", "C2", utc(2025, 1, 10), 200.0, 50.0),
            ("R3", "C3", utc(2025, 1, 20), 300.0, None),
            ("R4", "C1", utc(2025, 1, 25), 100.0, 20.0),
            ("R5", "C6", utc(2025, 1, 15), 100.0, 0.0),
            ("R6", "C3", utc(2025, 2, 1), 500.0, 250.0),
            ("R7", "C4", utc(2025, 2, 15), 400.0, 50.0),
            ("R9", "C1", utc(2025, 4, 1), 999.0, 0.0),
        ],
    )


def main_spend() -> pl.DataFrame:
    """Spend lines.

    S0 2024-12-31T23:59:59 marketing 5000 (December, outside every tested month)
    Jan: S1 marketing 1000, S2 sales 500, S3 retention 200, S4 other 999 (ignored)
    Feb: S5 marketing 600 at exactly 2025-02-01T00:00Z, S6 retention 400
    Mar: S7 sales 777 at exactly 2025-03-01T00:00Z
    """
    return table(
        SPEND_SCHEMA,
        [
            ("S0", utc(2024, 12, 31, 23, 59, 59), "marketing", 5000.0),
            ("S1", utc(2025, 1, 3), "marketing", 1000.0),
            ("S2", utc(2025, 1, 20), "sales", 500.0),
            ("S3", utc(2025, 1, 10), "retention", 200.0),
            ("S4", utc(2025, 1, 15), "other", 999.0),
            ("S5", utc(2025, 2, 1), "marketing", 600.0),
            ("S6", utc(2025, 2, 28), "retention", 400.0),
            ("S7", utc(2025, 3, 1), "sales", 777.0),
        ],
    )


def main_deals() -> pl.DataFrame:
    """Deals; expansion = won and upsell/cross_sell, counted by closed_at.

    D1 C1 upsell     won,  closed 2025-01-15 -> Jan expansion
    D2 C3 cross_sell won,  closed 2025-01-20 -> Jan expansion
    D3 C1 upsell     lost, closed 2025-01-22 -> not won
    D4 C2 new_business won, closed 2025-01-05 -> wrong type
    D5 C3 renewal    won,  closed 2025-02-10 -> wrong type
    D6 C4 upsell     won,  closed 2025-02-20 -> Feb expansion
    D7 C5 cross_sell open (not closed)        -> not won
    D8 C7 upsell     won,  closed exactly 2025-03-01T00:00Z -> Mar expansion
    D9 C1 (no type)  won,  closed 2025-03-10 -> no type
    """
    return table(
        DEALS_SCHEMA,
        [
            ("D1", "C1", "Closed Won", True, True, "upsell", utc(2025, 1, 2), utc(2025, 1, 15)),
            ("D2", "C3", "Closed Won", True, True, "cross_sell", utc(2025, 1, 3), utc(2025, 1, 20)),
            ("D3", "C1", "Closed Lost", True, False, "upsell", utc(2025, 1, 4), utc(2025, 1, 22)),
            ("D4", "C2", "Closed Won", True, True, "new_business", utc(2024, 12, 1), utc(2025, 1, 5)),
            ("D5", "C3", "Closed Won", True, True, "renewal", utc(2025, 1, 10), utc(2025, 2, 10)),
            ("D6", "C4", "Closed Won", True, True, "upsell", utc(2025, 2, 2), utc(2025, 2, 20)),
            ("D7", "C5", "Negotiation", False, False, "cross_sell", utc(2025, 2, 3), None),
            ("D8", "C7", "Closed Won", True, True, "upsell", utc(2025, 2, 10), utc(2025, 3, 1)),
            ("D9", "C1", "Closed Won", True, True, None, utc(2025, 3, 1), utc(2025, 3, 10)),
        ],
    )


def main_leads() -> pl.DataFrame:
    """Leads, timestamps as ISO strings; counted by created_at.

    Jan: L1 converted -> C6 (Mid-Market); L2 not converted, no customer;
         L3 created 2025-01-31T23:59:59Z, converted on 2025-02-15 -> C4 (Enterprise);
         L4 not converted, no customer                                  -> 2 of 4
    Feb: L5 converted -> C7 (SMB); L6, L7 not converted, no customer;
         L9 created 2025-03-01T01:00+02:00 = 2025-02-28T23:00Z, not converted, no customer
                                                                       -> 1 of 4
    Mar: L8 converted -> C8 (Enterprise)                               -> 1 of 1
    """
    return table(
        {"lead_id": STR, "created_at": STR, "is_converted": BOOL, "converted_at": STR, "customer_id": STR},
        [
            ("L1", "2025-01-05T00:00:00Z", True, "2025-01-20T00:00:00Z", "C6"),
            ("L2", "2025-01-10T00:00:00Z", False, None, None),
            ("L3", "2025-01-31T23:59:59Z", True, "2025-02-15T00:00:00Z", "C4"),
            ("L4", "2025-01-12T00:00:00Z", False, None, None),
            ("L5", "2025-02-03T00:00:00Z", True, "2025-02-28T00:00:00Z", "C7"),
            ("L6", "2025-02-20T00:00:00Z", False, None, None),
            ("L7", "2025-02-25T00:00:00Z", False, None, None),
            ("L8", "2025-03-05T00:00:00Z", True, "2025-03-15T00:00:00Z", "C8"),
            ("L9", "2025-03-01T01:00:00+02:00", False, None, None),
        ],
    )


def main_tickets() -> pl.DataFrame:
    """Support tickets, timestamps as ISO strings; counted by created_at.

    Jan: T1 C1 08:00 -> 10:30                        = 2.5 h
         T2 C2 01-10 09:00 -> 01-11 09:00:00.000001  = 24 h + 1 microsecond
         T3 C3 no response                            (skipped by the mean)
         T6 C5 01-31 23:00 -> 02-01 01:00             = 2 h (created in Jan)
    Feb: T4 C4 created 10:00+02:00 = 08:00Z -> 09:30Z = 1.5 h
         T5 C3 12:00 -> 13:00                         = 1 h
    Mar: T7 C1 no response
    """
    return table(
        {"ticket_id": STR, "customer_id": STR, "created_at": STR, "first_response_at": STR},
        [
            ("T1", "C1", "2025-01-02T08:00:00Z", "2025-01-02T10:30:00Z"),
            ("T2", "C2", "2025-01-10T09:00:00Z", "2025-01-11T09:00:00.000001Z"),
            ("T3", "C3", "2025-01-20T12:00:00Z", None),
            ("T6", "C5", "2025-01-31T23:00:00Z", "2025-02-01T01:00:00Z"),
            ("T4", "C4", "2025-02-05T10:00:00+02:00", "2025-02-05T09:30:00Z"),
            ("T5", "C3", "2025-02-12T12:00:00Z", "2025-02-12T13:00:00Z"),
            ("T7", "C1", "2025-03-03T09:00:00Z", None),
        ],
    )


def main_surveys() -> pl.DataFrame:
    """Survey responses; only type nps counts for NPS and health satisfaction.

    Jan: P1 C1 nps 10, P2 C3 nps 9, P3 C2 nps 7, P4 C1 nps 3, P8 C1 csat 5, P9 C3 ces 2
    Feb: P5 C4 nps 6, P6 C3 nps 5, P7 C4 nps 9, P10 C7 csat 4
    Mar: P11 C1 csat 3 (no nps at all)
    """
    return table(
        SURVEYS_SCHEMA,
        [
            ("P1", "C1", "nps", 10.0, utc(2025, 1, 3)),
            ("P2", "C3", "nps", 9.0, utc(2025, 1, 8)),
            ("P3", "C2", "nps", 7.0, utc(2025, 1, 15)),
            ("P4", "C1", "nps", 3.0, utc(2025, 1, 28)),
            ("P8", "C1", "csat", 5.0, utc(2025, 1, 10)),
            ("P9", "C3", "ces", 2.0, utc(2025, 1, 11)),
            ("P5", "C4", "nps", 6.0, utc(2025, 2, 3)),
            ("P6", "C3", "nps", 5.0, utc(2025, 2, 14)),
            ("P7", "C4", "nps", 9.0, utc(2025, 2, 27)),
            ("P10", "C7", "csat", 4.0, utc(2025, 2, 28, 23, 30)),
            ("P11", "C1", "csat", 3.0, utc(2025, 3, 5)),
        ],
    )


def main_activity() -> pl.DataFrame:
    """Product activity.

    A0 C1 2024-12-31T23:59:59 (December, not January)
    A1..A5 C1 on 2025-01-01T00:00Z .. 2025-01-05 (5 rows in Jan)
    A6 C6 2025-01-12 (C6 is not active at the end of January)
    """
    rows = [("A0", "C1", utc(2024, 12, 31, 23, 59, 59))]
    rows += [(f"A{day}", "C1", utc(2025, 1, day)) for day in range(1, 6)]
    rows.append(("A6", "C6", utc(2025, 1, 12)))
    return table(ACTIVITY_SCHEMA, rows)


def main_source() -> dict[str, pl.DataFrame]:
    return {
        "customers": main_customers(),
        "revenue": main_revenue(),
        "spend": main_spend(),
        "deals": main_deals(),
        "leads": main_leads(),
        "tickets": main_tickets(),
        "survey_responses": main_surveys(),
        "activity": main_activity(),
    }


# ---------------------------------------------------------------------------------------
# The health-score fixture: March 2025.
# ---------------------------------------------------------------------------------------


def health_source() -> dict[str, pl.DataFrame]:
    """Customers with activity, responses and tickets around March 2025.

    H1 SMB         active; Mar: 10 activity rows, nps 9 and 7, 1 ticket
                   (Feb: 5 activity rows and an nps 0, outside March)
    H2 SMB         active; Mar: 25 activity rows, a csat 2 (not nps), no ticket
                   (a ticket created 2025-02-28T23:30Z, in February)
    H3 Enterprise  active; Mar: 4 activity rows, nps 3, a ces 7 (not nps), 7 tickets
                   (an activity row at exactly 2025-04-01T00:00Z, in April)
    H4 Enterprise  churned 2025-03-20: not active at 2025-04-01 (20 activity rows, nps 10 in Mar)
    H5 Enterprise  acquired 2025-03-10; nothing in March (nps 10 and a ticket in February)
    H6 Mid-Market  churned 2025-02-15: no active Mid-Market customer at 2025-04-01
    """
    customers = table(
        CUSTOMERS_SCHEMA,
        [
            ("H1", "SMB", utc(2024, 6, 1), None),
            ("H2", "SMB", utc(2024, 6, 1), None),
            ("H3", "Enterprise", utc(2024, 6, 1), None),
            ("H4", "Enterprise", utc(2024, 6, 1), utc(2025, 3, 20)),
            ("H5", "Enterprise", utc(2025, 3, 10), None),
            ("H6", "Mid-Market", utc(2024, 6, 1), utc(2025, 2, 15)),
        ],
    )
    activity_rows: list[tuple] = []

    def add_activity(customer: str, month: int, days: range) -> None:
        for day in days:
            activity_rows.append((f"{customer}-{month}-{day}", customer, utc(2025, month, day)))

    add_activity("H1", 3, range(1, 11))  # 10 rows in March
    add_activity("H1", 2, range(1, 6))  # 5 rows in February
    add_activity("H2", 3, range(1, 26))  # 25 rows in March
    add_activity("H3", 3, range(1, 5))  # 4 rows in March
    add_activity("H4", 3, range(1, 21))  # 20 rows in March (H4 not active at period end)
    activity_rows.append(("H3-4-1", "H3", utc(2025, 4, 1)))
    activity = table(ACTIVITY_SCHEMA, activity_rows)

    surveys = table(
        SURVEYS_SCHEMA,
        [
            ("Q1", "H1", "nps", 9.0, utc(2025, 3, 5)),
            ("Q2", "H1", "nps", 7.0, utc(2025, 3, 20)),
            ("Q3", "H1", "nps", 0.0, utc(2025, 2, 20)),
            ("Q4", "H2", "csat", 2.0, utc(2025, 3, 10)),
            ("Q5", "H3", "nps", 3.0, utc(2025, 3, 11)),
            ("Q6", "H3", "ces", 7.0, utc(2025, 3, 12)),
            ("Q7", "H4", "nps", 10.0, utc(2025, 3, 5)),
            ("Q8", "H5", "nps", 10.0, utc(2025, 2, 25)),
        ],
    )
    ticket_rows = [("K1", "H1", utc(2025, 3, 15), utc(2025, 3, 15, 1))]
    ticket_rows += [(f"K3-{i}", "H3", utc(2025, 3, i), None) for i in range(1, 8)]
    ticket_rows += [
        ("K2", "H2", utc(2025, 2, 28, 23, 30), utc(2025, 3, 1, 9)),
        ("K5", "H5", utc(2025, 2, 20), None),
    ]
    tickets = table(TICKETS_SCHEMA, ticket_rows)
    return {
        "customers": customers,
        "activity": activity,
        "survey_responses": surveys,
        "tickets": tickets,
    }


# ---------------------------------------------------------------------------------------
# The week-grain fixture: weeks of 2025-01-06 and 2025-01-13 (both Mondays).
# ---------------------------------------------------------------------------------------


def week_source() -> dict[str, pl.DataFrame]:
    """Customers and revenue around two ISO weeks.

    K0 acquired 2025-01-05T23:59:59Z (Sunday: the week of 2024-12-30)
    K1 acquired 2025-01-06T00:00:00Z (Monday, first instant of week 1)
    K2 acquired 2025-01-12T23:59:59.999999Z (last microsecond of week 1)
    K3 acquired 2025-01-13T01:00:00+02:00 = 2025-01-12T23:00Z (week 1)
    K4 acquired 2025-01-13T00:00:00Z (week 2)
    K5 acquired 2025-01-19T12:00Z (week 2), churned exactly 2025-01-20T00:00Z (week 3)

    Revenue (all K0): 2025-01-05 100 (week before), 2025-01-06 150 (week 1),
    2025-01-19T23:59:59 50 (week 2), 2025-01-20 999 (week 3, outside the range)
    """
    customers = table(
        {"customer_id": STR, "acquired_at": STR, "churned_at": STR},
        [
            ("K0", "2025-01-05T23:59:59Z", None),
            ("K1", "2025-01-06T00:00:00Z", None),
            ("K2", "2025-01-12T23:59:59.999999Z", None),
            ("K3", "2025-01-13T01:00:00+02:00", None),
            ("K4", "2025-01-13T00:00:00Z", None),
            ("K5", "2025-01-19T12:00:00Z", "2025-01-20T00:00:00Z"),
        ],
    )
    revenue = table(
        REVENUE_SCHEMA,
        [
            ("W0", "K0", utc(2025, 1, 5), 100.0, None),
            ("W1", "K0", utc(2025, 1, 6), 150.0, None),
            ("W2", "K0", utc(2025, 1, 19, 23, 59, 59), 50.0, None),
            ("W3", "K0", utc(2025, 1, 20), 999.0, None),
        ],
    )
    return {"customers": customers, "revenue": revenue}
