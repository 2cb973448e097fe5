"""The Salesforce connector's options, as a JSON Schema (draft-07) carrying every default.

Salesforce leaves several derivations to each org (when an account became a customer,
what an opportunity type means, where a case's first response is recorded); each has a
default here and can be overridden from the project file.
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
_FIELD = {"type": ["string", "null"], "pattern": r"^[A-Za-z][A-Za-z0-9_.]*$"}

DEAL_TYPES: dict[str, str | None] = {
    "New Customer": "new_business",
    "New Business": "new_business",
    "Existing Customer - Upgrade": "upsell",
    "Existing Customer - Replacement": "renewal",
    "Existing Customer - Downgrade": None,
    "Renewal": "renewal",
    "Upsell": "upsell",
    "Cross-Sell": "cross_sell",
    "Cross Sell": "cross_sell",
}

TICKET_CHANNELS: dict[str, str | None] = {
    "Phone": "phone",
    "Email": "email",
    "Web": "web",
    "Chat": "chat",
}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if description:
        schema["description"] = description
    return schema


OPTIONS_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "salesforce connector options",
    "definitions": mapping_definitions(),
    **_object(
        {
            "mappings": {
                **mappings_schema(),
                "description": "Canonical table -> how it is read: another object (a custom one such "
                "as Spend__c) or columns replacing the built-in ones. Usually written in the project "
                "file beside options; see docs/connectors/your-own-org.md.",
            },
            "date_format": date_format_schema(),
            "checkbox_fields": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*$"},
                "default": [],
                "description": "Files mode: custom checkbox fields (e.g. Is_Partner__c) whose empty "
                "cells mean false, as for the standard ones; live mode learns them from describe.",
            },
            "api_version": {
                "type": "string",
                "pattern": r"^v\d+\.\d$",
                "default": "v60.0",
                "description": "Live mode: the REST API version in /services/data/<version>/.",
            },
            "include_deleted": {
                "type": "boolean",
                "default": False,
                "description": "Keep rows with IsDeleted = true (from queryAll exports).",
            },
            "channel_map": {
                **_STRING_MAP,
                "default": {},
                "x-merge": True,
                "description": "AccountSource / LeadSource value -> channel; others are snake_cased.",
            },
            "currency": currency_schema(),
            "http": http_schema(),
            "customers": _object(
                {
                    "acquired_at": {
                        "enum": ["first_won_deal", "field"],
                        "default": "first_won_deal",
                        "description": "first_won_deal: the earliest CloseDate of a won Opportunity; "
                        "field: the Account field named by acquired_at_field.",
                    },
                    "acquired_at_field": {**_FIELD, "default": None},
                    "churned_at": {
                        "enum": ["contract_end", "field", "none"],
                        "default": "contract_end",
                        "description": "contract_end: the latest EndDate of the account's activated "
                        "Contracts once it has passed (open-ended contracts mean still a customer); "
                        "field: the Account field named by churned_at_field; none: never churned.",
                    },
                    "churned_at_field": {**_FIELD, "default": None},
                    "region_field": {**_FIELD, "default": "BillingCountry"},
                    "segment": segment_schema(),
                    "include_prospects": {
                        "type": "boolean",
                        "default": False,
                        "description": "Accounts with no acquisition date are not customers and are "
                        "left out (counted); true keeps them, to be rejected by the model's rules.",
                    },
                }
            ),
            "deals": _object(
                {
                    "deal_type_map": {
                        **_STRING_MAP,
                        "default": DEAL_TYPES,
                        "x-merge": True,
                        "description": "Opportunity.Type -> new_business, upsell, cross_sell, renewal "
                        "or null. Merged over the defaults.",
                    },
                    "deal_type_field": {**_FIELD, "default": "Type"},
                }
            ),
            "leads": _object(
                {
                    "converted_statuses": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": ["Closed - Converted"],
                        "description": "Lead.Status values that mean converted, used where IsConverted "
                        "is missing; LeadStatus rows with IsConverted = true are added.",
                    },
                }
            ),
            "tickets": _object(
                {
                    "first_response": {
                        "type": "array",
                        "default": ["milestone", "outgoing_email"],
                        "items": {"enum": ["milestone", "outgoing_email", "field"]},
                        "description": "Sources of first_response_at, tried in order per case.",
                    },
                    "first_response_milestone": {
                        "type": "string",
                        "default": "First Response",
                        "description": "MilestoneType name whose CaseMilestone.CompletionDate counts.",
                    },
                    "first_response_field": {**_FIELD, "default": None},
                    "handle_time": {
                        "type": "array",
                        "default": ["agent_work", "call_tasks"],
                        "items": {"enum": ["agent_work", "call_tasks", "field"]},
                        "description": "Sources of handle_time_seconds, tried in order per case.",
                    },
                    "handle_time_field": {**_FIELD, "default": None},
                    "channel_map": {
                        **_STRING_MAP,
                        "default": TICKET_CHANNELS,
                        "x-merge": True,
                        "description": "Case.Origin -> email, phone, chat or web. Merged over the defaults.",
                    },
                }
            ),
            "spend": _object(
                {
                    "category": {
                        "enum": ["marketing", "sales", "retention", "other"],
                        "default": "marketing",
                    },
                    "category_map": {
                        "type": "object",
                        "default": {},
                        "x-merge": True,
                        "additionalProperties": {"enum": ["marketing", "sales", "retention", "other"]},
                        "description": "Campaign.Type -> category, for types that are not marketing.",
                    },
                }
            ),
            "revenue": _object(
                {
                    "source": {
                        "enum": ["auto", "opportunity_line_items", "orders", "invoices"],
                        "default": "auto",
                        "description": "auto: OpportunityLineItem if present, else Order, else Invoice.",
                    },
                    "cost_field": {
                        **_FIELD,
                        "default": None,
                        "description": "Field holding the cost of goods sold of a line, order or invoice.",
                    },
                    "order_statuses": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": ["Activated"],
                    },
                    "invoice": _object(
                        {
                            "object": {"type": "string", "default": "Invoice"},
                            "customer_field": {**_FIELD, "default": "BillingAccountId"},
                            "date_field": {**_FIELD, "default": "InvoiceDate"},
                            "amount_field": {**_FIELD, "default": "TotalAmount"},
                            "status_field": {**_FIELD, "default": "Status"},
                            "statuses": {"type": "array", "items": {"type": "string"}, "default": ["Posted"]},
                        }
                    ),
                }
            ),
            "activity": _object(
                {
                    "objects": {
                        "type": "array",
                        "items": {"enum": ["Task", "Event"]},
                        "default": ["Task", "Event"],
                    },
                }
            ),
        }
    ),
}
