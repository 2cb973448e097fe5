"""Generate the bundled sample dataset: a fictional B2B SaaS company, 2023 to 2025.

The company sells a subscription to SMB, Mid-Market and Enterprise accounts in four
regions. Customers are acquired from January 2023, so that 2024, the first year the
sample is meant to be analysed on, opens with a customer base; the data ends on
2025-12-31. The script writes one canonical CSV file per table (``customers.csv``,
``deals.csv``, ``leads.csv``, ``tickets.csv``, ``survey_responses.csv``, ``spend.csv``,
``revenue.csv``, ``activity.csv``) with the canonical columns in canonical order.

The story is kept consistent across tables: a customer's won new-business deal closes
when it is acquired, its converted lead points at it, monthly revenue follows its
subscription (raised by won upsells, cross-sells and renewal uplifts, prorated in the
first and last month), a renewal falling due within three months of its churn is lost,
and its product activity fades in the months before it leaves. Rates are plausible for
the kind of company: monthly churn around 2 %, NPS in the 30s, CSAT around 80 %, a lead
conversion rate around 12 %.

Most timestamps are ISO 8601 with ``Z``; a few carry a ``+02:00`` offset and a few are
bare dates, so that every load exercises the timestamp parser.

The output is deterministic (a fixed seed, no dependence on the clock or on set order):
running the script twice writes byte-identical files.

Run it from the repository root::

    python scripts/generate_sample.py              # into engine/crmetrics/sample/data
    python scripts/generate_sample.py --out DIR    # anywhere else
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crmetrics.model import TABLES

SEED = 20240101
HISTORY_START = datetime(2023, 1, 1, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)  # exclusive: the data is as of 2025-12-31
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "engine" / "crmetrics" / "sample" / "data"

Row = dict[str, str]
# created, first response, resolved, customer_id, channel, priority
Ticket = tuple[datetime, datetime | None, datetime | None, str, str, str]


@dataclass(frozen=True)
class Segment:
    name: str
    weight: float
    mrr: tuple[float, float]
    monthly_churn: float
    sales_cycle_days: tuple[int, int]
    tickets_per_month: float
    activity_per_month: float


SEGMENTS = (
    Segment("SMB", 0.55, (250, 1200), 0.026, (10, 40), 0.35, 3.0),
    Segment("Mid-Market", 0.30, (1500, 5000), 0.014, (30, 90), 0.6, 5.0),
    Segment("Enterprise", 0.15, (8000, 25000), 0.006, (60, 160), 1.0, 8.0),
)
REGIONS = (("North America", 0.45), ("EMEA", 0.33), ("APAC", 0.15), ("LATAM", 0.07))
INDUSTRIES = (
    ("Software", 0.24), ("Financial Services", 0.16), ("Healthcare", 0.13), ("Retail", 0.12),
    ("Manufacturing", 0.12), ("Education", 0.08), ("Media", 0.07), ("Logistics", 0.08),
)
ACQUISITION_CHANNELS = (
    ("paid_search", 0.26), ("organic", 0.20), ("referral", 0.16), ("outbound", 0.20),
    ("events", 0.10), ("partner", 0.08),
)
LEAD_SOURCES = (*ACQUISITION_CHANNELS, ("paid_social", 0.12), ("content", 0.10))
OPEN_STAGES = ("Qualification", "Discovery", "Proposal", "Negotiation")
TICKET_CHANNELS = (("email", 0.40), ("chat", 0.25), ("phone", 0.20), ("web", 0.15))
PRIORITIES = (("low", 0.30), ("normal", 0.45), ("high", 0.20), ("urgent", 0.05))
ACTIVITY_TYPES = (
    ("login", 0.45), ("report_viewed", 0.20), ("dashboard_edited", 0.10),
    ("integration_sync", 0.10), ("export", 0.08), ("meeting", 0.04), ("api_key_created", 0.03),
)
NAME_PREFIXES = (
    "Acme", "Blue", "Bright", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor",
    "Iron", "Juniper", "Keystone", "Lumen", "Maple", "Nimbus", "Orion", "Pioneer", "Quartz",
    "River", "Summit", "Tidal", "Union", "Vertex", "Willow", "Zenith", "Northwind", "Copper",
)
NAME_SUFFIXES = (
    "Analytics", "Systems", "Health", "Logistics", "Labs", "Retail", "Foods", "Capital",
    "Robotics", "Media", "Learning", "Energy", "Networks", "Partners", "Software", "Works",
    "Dynamics", "Clinics", "Supply",
)
# Monthly cost lines: (category, channel, base amount). Events spike in event quarters.
SPEND_LINES = (
    ("marketing", "paid_search", 48000.0),
    ("marketing", "paid_social", 21000.0),
    ("marketing", "events", 6000.0),
    ("marketing", "content", 11000.0),
    ("marketing", "partner", 7000.0),
    ("sales", "outbound", 42000.0),
    ("sales", "account_executives", 78000.0),
    ("sales", "sales_tools", 5500.0),
    ("retention", "customer_success", 34000.0),
    ("retention", "onboarding", 9000.0),
    ("other", "general_admin", 41000.0),
    ("other", "hosting", 26000.0),
)
EVENT_MONTHS = (3, 6, 9, 10)


@dataclass
class Customer:
    customer_id: str
    name: str
    acquired_at: datetime
    segment: Segment
    region: str
    industry: str
    channel: str
    base_mrr: float
    churned_at: datetime | None = None
    engagement: float = 1.0
    # (effective from, change in monthly recurring revenue)
    mrr_changes: list[tuple[datetime, float]] = field(default_factory=list)

    def mrr_at(self, moment: datetime) -> float:
        return self.base_mrr + sum(delta for at, delta in self.mrr_changes if at <= moment)

    def active_span(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """The part of [start, end) during which the customer is active, if any."""
        low = max(start, self.acquired_at)
        high = min(end, self.churned_at or end)
        return (low, high) if high > low else None


@dataclass
class Deal:
    customer_id: str | None
    amount: float | None
    stage: str
    deal_type: str
    created_at: datetime
    closed_at: datetime | None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.customers: list[Customer] = []
        self.deals: list[Deal] = []

    # -- random helpers -------------------------------------------------------------------

    def pick(self, options: Sequence[tuple[str, float]]) -> str:
        names = [name for name, _ in options]
        weights = [weight for _, weight in options]
        return self.rng.choices(names, weights)[0]

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        limit, count, product = math.exp(-lam), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def moment(self, start: datetime, end: datetime, *, office: bool = True) -> datetime:
        """A whole second in [start, end), mostly on weekdays and in office hours."""
        span = int((end - start).total_seconds())
        if span <= 0:
            return start
        at = start
        for _ in range(20):
            at = start + timedelta(seconds=self.rng.randrange(span))
            if not office:
                return at
            if at.weekday() >= 5 and self.rng.random() > 0.15:
                continue
            if not 7 <= at.hour < 19 and self.rng.random() > 0.2:
                continue
            return at
        return at

    def days_before(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high), seconds=self.rng.randrange(9 * 3600))

    def stamp(self, at: datetime | None, *, bare_ok: bool = True) -> str:
        """``at`` as the text a source might hold: mostly ``Z``, some offsets, some dates.

        Bare dates are offered only where midnight of the same day keeps every rule of the
        model (tickets keep their exact times, since their durations are measured).
        """
        if at is None:
            return ""
        draw = self.rng.random()
        if bare_ok and draw < 0.03:
            return at.strftime("%Y-%m-%d")
        if draw > 0.96:
            return (at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- the story ------------------------------------------------------------------------

    def run(self) -> dict[str, list[Row]]:
        self.make_customers()
        self.make_churn()
        self.make_expansions()
        self.make_renewals()
        self.make_lost_and_open_new_business()
        tables = {
            "customers": self.customer_rows(),
            "deals": self.deal_rows(),
            "leads": self.lead_rows(),
            "spend": self.spend_rows(),
            "revenue": self.revenue_rows(),
            "activity": self.activity_rows(),
        }
        tables["tickets"], tables["survey_responses"] = self.ticket_and_survey_rows()
        return {name: tables[name] for name in TABLES}

    def make_customers(self) -> None:
        names = [f"{p} {s}" for p in NAME_PREFIXES for s in NAME_SUFFIXES]
        self.rng.shuffle(names)
        acquired: list[tuple[datetime, Segment]] = []
        for month in months(HISTORY_START, END):
            per_month = {2023: 10.0, 2024: 8.5, 2025: 9.5}[month.year]
            count = max(3, round(self.rng.gauss(per_month, 2.0)))
            for _ in range(count):
                segment = self.rng.choices(SEGMENTS, [s.weight for s in SEGMENTS])[0]
                acquired.append((self.moment(month, next_month(month)), segment))
        acquired.sort(key=lambda item: item[0])
        for number, (at, segment) in enumerate(acquired, start=1):
            low, high = segment.mrr
            customer = Customer(
                customer_id=f"C{number:04d}",
                name=names[number - 1],
                acquired_at=at,
                segment=segment,
                region=self.pick(REGIONS),
                industry=self.pick(INDUSTRIES),
                channel=self.pick(ACQUISITION_CHANNELS),
                base_mrr=round(self.rng.uniform(low, high), -1),
            )
            self.customers.append(customer)
            cycle = self.rng.randint(*segment.sales_cycle_days)
            self.deals.append(
                Deal(customer.customer_id, customer.base_mrr * 12, "Closed Won", "new_business",
                     at - self.days_before(cycle, cycle), at)
            )

    def make_churn(self) -> None:
        for customer in self.customers:
            month = next_month(month_of(customer.acquired_at))
            while month < END:
                if self.rng.random() < customer.segment.monthly_churn:
                    earliest = max(month, customer.acquired_at + timedelta(days=30))
                    if earliest < next_month(month):
                        customer.churned_at = self.moment(earliest, next_month(month))
                        break
                month = next_month(month)
            # Accounts about to leave use the product less all along.
            low, high = (0.4, 1.0) if customer.churned_at else (0.6, 1.6)
            customer.engagement = self.rng.uniform(low, high)

    def make_expansions(self) -> None:
        for customer in self.customers:
            month = next_month(next_month(month_of(customer.acquired_at)))
            while month < END:
                end = next_month(month)
                leaving = customer.churned_at and customer.churned_at < end + timedelta(days=30)
                if leaving:
                    break
                draw = self.rng.random()
                deal_type = "upsell" if self.rng.random() < 0.6 else "cross_sell"
                delta = round(customer.mrr_at(month) * self.rng.uniform(0.08, 0.3), -1)
                if draw < 0.028:
                    closed = self.moment(month, end)
                    created = closed - timedelta(days=self.rng.randint(14, 60))
                    self.deals.append(
                        Deal(customer.customer_id, delta * 12, "Closed Won", deal_type,
                             created, closed)
                    )
                    customer.mrr_changes.append((end, delta))
                elif draw < 0.042:
                    closed = self.moment(month, end)
                    created = closed - timedelta(days=self.rng.randint(14, 75))
                    self.deals.append(
                        Deal(customer.customer_id, self.maybe(delta * 12), "Closed Lost", deal_type,
                             created, closed)
                    )
                elif draw < 0.06 and month >= datetime(2025, 11, 1, tzinfo=UTC):
                    created = self.moment(month, end)
                    self.deals.append(
                        Deal(customer.customer_id, self.maybe(delta * 12),
                             self.rng.choice(OPEN_STAGES), deal_type, created, None)
                    )
                month = end

    def make_renewals(self) -> None:
        for customer in self.customers:
            years = 1
            while True:
                anniversary = add_years(customer.acquired_at, years)
                if anniversary >= END + timedelta(days=45):
                    break
                churned = customer.churned_at
                if churned is not None and churned <= anniversary:
                    if churned > anniversary - timedelta(days=90):
                        created = min(
                            anniversary - timedelta(days=75), churned - timedelta(days=10)
                        )
                        self.deals.append(
                            Deal(customer.customer_id, self.maybe(customer.mrr_at(churned) * 12),
                                 "Closed Lost", "renewal", created, churned)
                        )
                    break
                mrr = customer.mrr_at(anniversary)
                created = anniversary - self.days_before(45, 75)
                if anniversary < END:
                    closed = anniversary - self.days_before(0, 20)
                    uplift = round(mrr * self.rng.uniform(0.0, 0.06), -1)
                    customer.mrr_changes.append((anniversary, uplift))
                    self.deals.append(
                        Deal(customer.customer_id, (mrr + uplift) * 12, "Closed Won", "renewal",
                             max(created, closed - timedelta(days=30)), closed)
                    )
                elif created < END:
                    self.deals.append(
                        Deal(customer.customer_id, mrr * 12, self.rng.choice(OPEN_STAGES[2:]),
                             "renewal", created, None)
                    )
                years += 1

    def make_lost_and_open_new_business(self) -> None:
        """Prospects that never became customers: lost deals, and the open pipeline."""
        for month in months(datetime(2023, 7, 1, tzinfo=UTC), END):
            for _ in range(self.poisson(19.5)):
                segment = self.rng.choices(SEGMENTS, [s.weight for s in SEGMENTS])[0]
                closed = self.moment(month, next_month(month))
                created = closed - timedelta(days=self.rng.randint(*segment.sales_cycle_days))
                amount = round(self.rng.uniform(*segment.mrr), -1) * 12
                self.deals.append(
                    Deal(None, self.maybe(amount), "Closed Lost", "new_business", created, closed)
                )
        for _ in range(60):
            segment = self.rng.choices(SEGMENTS, [s.weight for s in SEGMENTS])[0]
            created = self.moment(datetime(2025, 9, 15, tzinfo=UTC), END)
            amount = round(self.rng.uniform(*segment.mrr), -1) * 12
            stage = self.rng.choice(OPEN_STAGES)
            self.deals.append(Deal(None, self.maybe(amount), stage, "new_business", created, None))

    def maybe(self, amount: float) -> float | None:
        """An amount that the rep sometimes left empty on a deal that did not close won."""
        return None if self.rng.random() < 0.03 else amount

    # -- tables ---------------------------------------------------------------------------

    def customer_rows(self) -> list[Row]:
        return [
            {
                "customer_id": c.customer_id,
                "name": c.name,
                "acquired_at": self.stamp(c.acquired_at),
                "churned_at": self.stamp(c.churned_at),
                "segment": c.segment.name,
                "region": c.region,
                "industry": c.industry,
                "acquisition_channel": c.channel,
            }
            for c in self.customers
        ]

    def deal_rows(self) -> list[Row]:
        self.deals.sort(key=lambda d: (d.created_at, d.customer_id or "", d.deal_type))
        return [
            {
                "deal_id": f"D{number:05d}",
                "customer_id": d.customer_id or "",
                "amount": money(d.amount),
                "stage": d.stage,
                "is_closed": "true" if d.is_closed else "false",
                "is_won": "true" if d.stage == "Closed Won" else "false",
                "deal_type": d.deal_type,
                "created_at": self.stamp(d.created_at),
                "closed_at": self.stamp(d.closed_at),
            }
            for number, d in enumerate(self.deals, start=1)
        ]

    def lead_rows(self) -> list[Row]:
        leads: list[tuple[datetime, str, datetime | None, str]] = []
        first_month = datetime(2023, 7, 1, tzinfo=UTC)
        for customer in self.customers:
            if customer.acquired_at < first_month + timedelta(days=60):
                continue
            deal = next(
                d for d in self.deals
                if d.customer_id == customer.customer_id and d.deal_type == "new_business"
            )
            created = deal.created_at - self.days_before(3, 30)
            leads.append((created, customer.channel, customer.acquired_at, customer.customer_id))
        for index, month in enumerate(months(first_month, END)):
            for _ in range(self.poisson(46 + 0.8 * index)):
                source = "" if self.rng.random() < 0.04 else self.pick(LEAD_SOURCES)
                created = self.moment(month, next_month(month), office=False)
                leads.append((created, source, None, ""))
        leads.sort(key=lambda lead: (lead[0], lead[3]))
        return [
            {
                "lead_id": f"L{number:05d}",
                "created_at": self.stamp(created),
                "source": source,
                # A few sources write booleans as yes/no or 1/0.
                "is_converted": self.boolean(converted is not None),
                "converted_at": self.stamp(converted),
                "customer_id": customer_id,
            }
            for number, (created, source, converted, customer_id) in enumerate(leads, start=1)
        ]

    def boolean(self, value: bool) -> str:
        draw = self.rng.random()
        if draw < 0.03:
            return "yes" if value else "no"
        if draw < 0.06:
            return "1" if value else "0"
        return "true" if value else "false"

    def ticket_and_survey_rows(self) -> tuple[list[Row], list[Row]]:
        tickets: list[Ticket] = []
        for customer in self.customers:
            for month in months(START, END):
                span = customer.active_span(month, next_month(month))
                if span is None:
                    continue
                share = (span[1] - span[0]) / (next_month(month) - month)
                for _ in range(self.poisson(customer.segment.tickets_per_month * share)):
                    tickets.append(self.ticket(customer.customer_id, self.moment(*span)))
        for month in months(START, END):
            for _ in range(self.poisson(3)):
                tickets.append(self.ticket("", self.moment(month, next_month(month))))
        tickets.sort(key=lambda t: (t[0], t[3]))

        surveys: list[tuple[datetime, str, str, int]] = []
        ticket_rows: list[Row] = []
        for number, (created, responded, resolved, customer_id, channel, priority) in enumerate(
            tickets, start=1
        ):
            handle = "" if self.rng.random() < 0.1 else str(self.handle_seconds(channel, priority))
            ticket_rows.append(
                {
                    "ticket_id": f"T{number:05d}",
                    "customer_id": customer_id,
                    "created_at": self.stamp(created, bare_ok=False),
                    "first_response_at": self.stamp(responded, bare_ok=False),
                    "resolved_at": self.stamp(resolved, bare_ok=False),
                    "handle_time_seconds": handle,
                    "channel": channel,
                    "priority": priority,
                }
            )
            if resolved is None or not customer_id:
                continue
            draw = self.rng.random()
            submitted = resolved + timedelta(minutes=self.rng.randint(20, 48 * 60))
            if submitted >= END:
                continue
            if draw < 0.22:
                score = self.rng.choices((5, 4, 3, 2, 1), (52, 28, 10, 5, 5))[0]
                surveys.append((submitted, customer_id, "csat", score))
            elif draw < 0.35:
                score = self.rng.choices((7, 6, 5, 4, 3, 2, 1), (25, 30, 20, 10, 7, 5, 3))[0]
                surveys.append((submitted, customer_id, "ces", score))
        surveys.extend(self.nps_answers())
        surveys.sort(key=lambda s: (s[0], s[1], s[2]))
        survey_rows = [
            {
                "response_id": f"S{number:05d}",
                # Anonymous answers exist: the survey tool lost the link to the account.
                "customer_id": "" if self.rng.random() < 0.02 else customer_id,
                "survey_type": survey_type,
                "score": str(score),
                "submitted_at": self.stamp(submitted),
            }
            for number, (submitted, customer_id, survey_type, score) in enumerate(surveys, start=1)
        ]
        return ticket_rows, survey_rows

    def ticket(self, customer_id: str, created: datetime) -> Ticket:
        channel = self.pick(TICKET_CHANNELS)
        priority = self.pick(PRIORITIES)
        urgency = {"urgent": 0.3, "high": 0.6}.get(priority, 1.0)
        if channel == "phone":
            wait_hours = self.rng.uniform(0.005, 0.05)
        elif channel == "chat":
            wait_hours = self.rng.lognormvariate(math.log(0.08), 0.8)
        else:
            wait_hours = self.rng.lognormvariate(math.log(3.0), 1.0) * urgency
        responded: datetime | None = created + timedelta(seconds=round(wait_hours * 3600) + 1)
        if self.rng.random() < 0.05:
            responded = None
        start = responded or created
        resolved: datetime | None = start + timedelta(
            seconds=round(self.rng.lognormvariate(math.log(12.0), 1.3) * 3600 * urgency) + 60
        )
        if (responded is None and self.rng.random() < 0.5) or self.rng.random() < 0.03:
            resolved = None
        # Nothing can have happened after the day the data was taken.
        if responded is not None and responded >= END:
            responded = None
        if resolved is not None and resolved >= END:
            resolved = None
        return created, responded, resolved, customer_id, channel, priority

    def handle_seconds(self, channel: str, priority: str) -> int:
        median = {"phone": 480, "chat": 720, "email": 900, "web": 900}[channel]
        factor = {"urgent": 1.8, "high": 1.3}.get(priority, 1.0)
        return max(30, round(self.rng.lognormvariate(math.log(median * factor), 0.5)))

    def nps_answers(self) -> list[tuple[datetime, str, str, int]]:
        """Quarterly relationship NPS pulses to a sample of the active customers."""
        answers = []
        for quarter in months(START, END)[::3]:
            window_end = quarter + timedelta(days=42)
            for customer in self.customers:
                span = customer.active_span(quarter, window_end)
                if span is None or self.rng.random() > 0.45:
                    continue
                submitted = self.moment(*span)
                leaving_soon = (
                    customer.churned_at is not None
                    and customer.churned_at < submitted + timedelta(days=180)
                )
                trend = 0.03 * (quarter.year - 2024)
                detractor = 0.17 + (0.25 if leaving_soon else 0.0) - trend
                promoter = 0.48 + trend - (0.2 if leaving_soon else 0.0)
                draw = self.rng.random()
                if draw < detractor:
                    score = self.rng.choices(range(7), (2, 2, 3, 5, 8, 15, 20))[0]
                elif draw < 1 - promoter:
                    score = self.rng.choice((7, 8))
                else:
                    score = self.rng.choices((9, 10), (45, 55))[0]
                answers.append((submitted, customer.customer_id, "nps", score))
        return answers

    def spend_rows(self) -> list[Row]:
        rows: list[Row] = []
        for index, month in enumerate(months(HISTORY_START, END)):
            growth = 1 + 0.012 * index
            for category, channel, base in SPEND_LINES:
                amount = base * growth * self.rng.uniform(0.9, 1.1)
                if channel == "events" and month.month in EVENT_MONTHS:
                    amount += self.rng.uniform(30000, 55000)
                # Invoices land on varying days; payroll is booked on the last day.
                if category == "sales" and channel != "sales_tools":
                    spent = next_month(month) - timedelta(days=1)
                else:
                    spent = self.moment(month, next_month(month))
                rows.append(
                    {
                        "spend_id": "",
                        "spent_at": self.stamp(spent),
                        "category": category,
                        "channel": channel,
                        "amount": money(amount),
                    }
                )
        for number, row in enumerate(rows, start=1):
            row["spend_id"] = f"SP{number:04d}"
        return rows

    def revenue_rows(self) -> list[Row]:
        rows: list[Row] = []
        for month in months(HISTORY_START, END):
            end = next_month(month)
            for customer in self.customers:
                span = customer.active_span(month, end)
                if span is None:
                    continue
                share = (span[1] - span[0]) / (end - month)
                amount = customer.mrr_at(month) * share
                if amount < 1:
                    continue
                cost = money(amount * self.rng.uniform(0.15, 0.28))
                if self.rng.random() < 0.05:
                    cost = ""
                recognized = max(month, span[0].replace(hour=0, minute=0, second=0))
                rows.append(
                    {
                        "revenue_id": f"R{len(rows) + 1:05d}",
                        "customer_id": customer.customer_id,
                        "recognized_at": self.stamp(recognized),
                        "amount": money(amount),
                        "cost": cost,
                    }
                )
        return rows

    def activity_rows(self) -> list[Row]:
        events: list[tuple[datetime, str, str]] = []
        for customer in self.customers:
            for month in months(START, END):
                span = customer.active_span(month, next_month(month))
                if span is None:
                    continue
                share = (span[1] - span[0]) / (next_month(month) - month)
                rate = customer.segment.activity_per_month * customer.engagement * share
                if customer.churned_at and customer.churned_at - month < timedelta(days=90):
                    rate *= 0.4
                for _ in range(self.poisson(rate)):
                    at = self.moment(*span)
                    events.append((at, customer.customer_id, self.pick(ACTIVITY_TYPES)))
        events.sort()
        return [
            {
                "activity_id": f"A{number:05d}",
                "customer_id": customer_id,
                "occurred_at": self.stamp(at),
                "activity_type": activity_type,
            }
            for number, (at, customer_id, activity_type) in enumerate(events, start=1)
        ]


def months(start: datetime, end: datetime) -> list[datetime]:
    out = []
    month = month_of(start)
    while month < end:
        out.append(month)
        month = next_month(month)
    return out


def month_of(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1, day=1)


def add_years(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def money(amount: float | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


def generate(seed: int = SEED) -> dict[str, list[Row]]:
    """Every canonical table's rows, as text, keyed by table name."""
    return Generator(seed).run()


def write(tables: dict[str, list[Row]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        columns = TABLES[name].column_names
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([row[c] for c in columns] for row in rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"folder to write into (default: {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)
    tables = generate()
    write(tables, args.out)
    for name, rows in tables.items():
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
