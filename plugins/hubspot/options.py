"""The HubSpot connector's options, as a JSON Schema (draft-07) carrying every default.

HubSpot leaves several derivations to each portal (when a company became a customer or
stopped being one, what a deal type or a custom pipeline stage means, which survey is the
NPS one); each has a default here and can be overridden from the project file.
"""

from __future__ import annotations

from typing import Any

from crmetrics.plugins.crm_common.options import (
    currency_schema,
    date_format_schema,
    http_schema,
    mapping_definitions,
    mappings_schema,
    segment_schema,
)

_STRING_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
_PROPERTY = {"type": ["string", "null"], "pattern": r"^[A-Za-z0-9_.]+$"}

DEAL_TYPES: dict[str, str | None] = {
    "newbusiness": "new_business",
    "New Business": "new_business",
    "existingbusiness": "upsell",
    "Existing Business": "upsell",
    "renewal": "renewal",
    "upsell": "upsell",
    "cross_sell": "cross_sell",
}

TICKET_CHANNELS: dict[str, str | None] = {
    "EMAIL": "email",
    "CHAT": "chat",
    "PHONE": "phone",
    "FORM": "web",
}

SURVEY_TYPES: dict[str, str | None] = {"NPS": "nps", "CSAT": "csat", "CES": "ces"}

_STAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["closed", "won"],
    "properties": {
        "label": {"type": "string"},
        "closed": {"type": "boolean"},
        "won": {"type": "boolean"},
    },
}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if description:
        schema["description"] = description
    return schema


OPTIONS_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "hubspot connector options",
    "definitions": mapping_definitions(),
    **_object(
        {
            "mappings": {
                **mappings_schema(),
                "description": "Canonical table -> how it is read: another object (a custom object "
                "such as p_marketing_spend) or properties replacing the built-in ones. Usually written "
                "in the project file beside options; see docs/connectors/your-own-org.md.",
            },
            "date_format": date_format_schema(),
            "include_archived": {
                "type": "boolean",
                "default": False,
                "description": "Keep records with archived = true (and merged-away records).",
            },
            "channel_map": {
                **_STRING_MAP,
                "default": {},
                "x-merge": True,
                "description": "hs_analytics_source value -> channel; others are snake_cased.",
            },
            "csv_headers": {
                **_STRING_MAP,
                "default": {},
                "x-merge": True,
                "description": "UI export column label -> internal property name, over the built-in "
                "labels; other labels are snake_cased (custom properties usually match).",
            },
            "home_currency": {
                "type": ["string", "null"],
                "pattern": "^[A-Z]{3}$",
                "default": None,
                "description": "The portal's company currency (default: currency.reporting); "
                "amount_in_home_currency is used when it equals the reporting currency.",
            },
            "currency": currency_schema(),
            "http": http_schema(),
            "customers": _object(
                {
                    "acquired_at": {
                        "enum": ["auto", "lifecycle_date", "first_won_deal", "field"],
                        "default": "auto",
                        "description": "auto: hs_lifecyclestage_customer_date, else the earliest closedate "
                        "of the company's won deals.",
                    },
                    "acquired_at_field": {**_PROPERTY, "default": None},
                    "churned_at": {
                        "enum": ["none", "field", "lifecycle_other"],
                        "default": "none",
                        "description": "none: never churned; field: the company property named by "
                        "churned_at_field; lifecycle_other: hs_lifecyclestage_other_date, for portals "
                        "that move former customers to the 'other' stage.",
                    },
                    "churned_at_field": {**_PROPERTY, "default": None},
                    "region_field": {**_PROPERTY, "default": "country"},
                    "segment": segment_schema(),
                    "include_prospects": {"type": "boolean", "default": False},
                }
            ),
            "deals": _object(
                {
                    "deal_type_map": {
                        **_STRING_MAP,
                        "default": DEAL_TYPES,
                        "x-merge": True,
                        "description": "dealtype -> new_business, upsell, cross_sell, renewal or null.",
                    },
                    "stages": {
                        "type": "object",
                        "default": {},
                        "x-merge": True,
                        "additionalProperties": _STAGE,
                        "description": "Stage id or label -> {label, closed, won}, over the pipelines "
                        "metadata (pipelines/deals.json or the pipelines API).",
                    },
                    "stage_name": {
                        "enum": ["label", "id"],
                        "default": "label",
                        "description": "deals.stage holds the stage label (as the UI shows it) or its id.",
                    },
                }
            ),
            "leads": _object(
                {
                    "converted_stage": {
                        "enum": ["marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"],
                        "default": "opportunity",
                        "description": "A contact is a converted lead once it reaches this lifecycle "
                        "stage; converted_at is hs_lifecyclestage_<stage>_date.",
                    },
                }
            ),
            "tickets": _object(
                {
                    "first_response_field": {
                        **_PROPERTY,
                        "default": None,
                        "description": "A property used before first_agent_reply_date and "
                        "createdate + time_to_first_agent_reply.",
                    },
                    "channel_map": {
                        **_STRING_MAP,
                        "default": TICKET_CHANNELS,
                        "x-merge": True,
                        "description": "source_type -> email, chat, phone or web.",
                    },
                    "handle_time": {
                        "enum": ["calls", "field", "none"],
                        "default": "calls",
                        "description": "calls: the summed hs_call_duration of calls associated with the "
                        "ticket; field: handle_time_field, in seconds.",
                    },
                    "handle_time_field": {**_PROPERTY, "default": None},
                }
            ),
            "surveys": _object(
                {
                    "survey_types": {
                        **_STRING_MAP,
                        "default": SURVEY_TYPES,
                        "x-merge": True,
                        "description": "hs_survey_id, hs_survey_name or hs_survey_type -> nps, csat, "
                        "ces (first match in that order); others are left out, counted.",
                    },
                    "scales": {
                        "type": "object",
                        "default": {},
                        "propertyNames": {"enum": ["nps", "csat", "ces"]},
                        "additionalProperties": {
                            "type": "array",
                            "items": {"type": "number"},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                        "description": "Source scale [low, high] per survey type, mapped linearly onto "
                        "the canonical one, e.g. {csat: [0, 2]} for a three-face CSAT.",
                    },
                }
            ),
            "revenue": _object(
                {
                    "source": {
                        "enum": ["auto", "invoices", "line_items"],
                        "default": "auto",
                        "description": "auto: invoices when there are any, else line items of won deals.",
                    },
                    "invoice_statuses": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": ["paid"],
                    },
                }
            ),
            "activity": _object(
                {
                    "objects": {
                        "type": "array",
                        "items": {"enum": ["calls", "emails", "meetings", "notes", "tasks", "engagements"]},
                        "default": ["calls", "emails", "meetings", "notes", "tasks", "engagements"],
                        "description": "Engagement objects read as activity (engagements = the v1 "
                        "engagements export).",
                    },
                }
            ),
        }
    ),
}
