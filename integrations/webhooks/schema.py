"""The JSON Schema of webhook payloads, versioned (``catalogue.PAYLOAD_VERSION``), served
at ``/api/v1/webhooks/schema/``. ``data.record`` is the record as the API's detail answers
it (the same serializer, as the subscription's owner reads it): its schema is the OpenAPI
document's component of that record type, named in ``x-record-schemas``."""

from __future__ import annotations

from typing import Any

from integrations.webhooks import catalogue

RECORD_SCHEMAS = {
    "incident": "Incident",
    "request": "ServiceRequest",
    "problem": "Problem",
    "change": "Change",
    "work_item": "WorkItem",
    "release": "Release",
    "article": "Article",
}

_PERSON = {
    "type": ["object", "null"],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "name": {"type": "string"},
    },
    "required": ["id", "username", "name"],
}


def payload_schema() -> dict[str, Any]:
    types = [t["type"] for t in catalogue.catalogue()]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"tandem:webhook-payload:v{catalogue.PAYLOAD_VERSION}",
        "title": f"Tandem webhook payload, version {catalogue.PAYLOAD_VERSION}",
        "description": (
            "The body of every delivery (Standard Webhooks shape). A change that breaks "
            "this shape gets a new version; fields may be added within a version."
        ),
        "type": "object",
        "required": ["type", "timestamp", "version", "data"],
        "properties": {
            "type": {"type": "string", "enum": types},
            "timestamp": {"type": "string", "format": "date-time"},
            "version": {"const": catalogue.PAYLOAD_VERSION},
            "data": {
                "oneOf": [
                    {"$ref": "#/$defs/record_event"},
                    {"$ref": "#/$defs/ping"},
                ]
            },
        },
        "$defs": {
            "record_event": {
                "type": "object",
                "required": ["record_type", "record", "event"],
                "properties": {
                    "record_type": {
                        "type": "string",
                        "enum": [rt for rt, _ in catalogue.RECORD_TYPES],
                    },
                    "record": {
                        "type": "object",
                        "description": "The record now, as the API's detail answers the "
                        "subscription's owner (see x-record-schemas).",
                    },
                    "event": {"$ref": "#/$defs/event"},
                },
            },
            "event": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {
                        "type": "string",
                        "description": "The audit action (a transition's name, created, "
                        "updated, commented, sla_warning, sla_breached, gate_evaluated…).",
                    },
                    "from_state": {"type": "string"},
                    "to_state": {"type": "string"},
                    "actor": _PERSON,
                    "changes": {
                        "type": "object",
                        "description": "field: [old, new]; empty when the owner may not "
                        "read the record's field changes.",
                        "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
                    },
                    "comment": {
                        "description": "The audit row's note (text), or for commented the "
                        "comment (object).",
                        "oneOf": [
                            {"type": "string"},
                            {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "body": {"type": "string"},
                                    "public": {"type": "boolean"},
                                    "created_at": {"type": "string", "format": "date-time"},
                                },
                            },
                        ],
                    },
                    "audit_id": {"type": "integer"},
                    "purpose": {"type": "string", "description": "gate_evaluated only."},
                    "allowed": {"type": "boolean", "description": "gate_evaluated only."},
                    "checks": {"type": "array", "description": "gate_evaluated only."},
                },
            },
            "ping": {
                "type": "object",
                "required": ["subscription", "message"],
                "properties": {
                    "subscription": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                    },
                    "message": {"type": "string"},
                },
            },
        },
        "x-event-types": catalogue.catalogue(),
        "x-record-schemas": {
            rt: f"/api/v1/schema/#/components/schemas/{name}" for rt, name in RECORD_SCHEMAS.items()
        },
        "x-signature": {
            "spec": "https://www.standardwebhooks.com/",
            "headers": ["webhook-id", "webhook-timestamp", "webhook-signature"],
            "note": "webhook-id is the same on every try of one delivery; the signature "
            "covers '<webhook-id>.<webhook-timestamp>.<body>' with HMAC-SHA256.",
        },
    }
