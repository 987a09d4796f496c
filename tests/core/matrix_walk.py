"""Walk every API operation of the live schema as one user: the requests the role-matrix
test makes, and how their answers read (allowed or denied)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.db import transaction
from django.urls import resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core import refcache
from tests.core.matrix_world import World, png

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # the schema's template: /api/v1/incidents/{id}/


@cache
def schema_operations() -> list[Operation]:
    """Every operation the API documents (drf-spectacular walks the URL resolver)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = []
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                ops.append(Operation(item[method]["operationId"], method, path))
    return ops


# The record a path's first segment names, for its {id}/{ref}/{code}.
_RECORD_OF_SEGMENT = {
    "approvals": "approval",
    "articles": "article",
    "bulk-jobs": "bulk_job",
    "calendars": "calendar",
    "canned-replies": "canned_reply",
    "catalog-items": "catalog_item",
    "change-templates": "change_template",
    "changes": "change",
    "components": "component",
    "defects": "defect",
    "emergency-decisions": "emergency_decision",
    "enhancements": "enhancement",
    "freeze-windows": "freeze_window",
    "incidents": "incident",
    "iterations": "iteration",
    "notifications": "notification",
    "problems": "problem",
    "projects": "project",
    "releases": "release",
    "requests": "request",
    "saved-views": "saved_view",
    "services": "spare_service",
    "sla-policies": "sla_policy",
    "teams": "team",
    "tokens": "token",
    "users": "user",
    "webhooks": "webhook",
}


def segment(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/")[0]


def fill(world: World, op: Operation, name: str = "") -> str:
    """The operation's URL with the world's records in its path parameters."""
    record = _RECORD_OF_SEGMENT.get(segment(op.path), "")
    obj = world.objects.get(record)
    if "/emergency-decisions/" in op.path and record == "change":
        obj = world["emergency_change_undecided"]  # a decision is recorded once per change

    def value(m: re.Match[str]) -> str:
        param = m.group(1)
        if param in ("id", "ref"):
            return str(obj.pk)
        if param == "code":
            return obj.code
        if param == "team_id":
            return str(world["ops"].pk)
        if param == "att_id":
            return str(world[f"{record}_attachment"].pk)
        if param == "user_id":
            return str(world.owner.pk)
        if param == "link_id":
            key = "dev_link" if "/dev-links/" in op.path else "link"
            return str(world[f"{record}_{key}"].pk)
        if param == "role_id":
            return str(world["service_role"].pk)
        if param == "task_id":
            return str(world["task"].pk)
        if param == "connector_id":  # no connector: the webhook refuses everyone anyway
            return "0"
        if param == "name":
            return name
        raise AssertionError(f"{op.operation_id}: no value for {{{param}}}")

    return _PARAM.sub(value, op.path)


def transition_names(world: World, op: Operation) -> list[str]:
    """Every transition of the record type a ``…/transitions/{name}/`` operation fires."""
    from itsm.models.request import TASK_TRANSITIONS

    if "{task_id}" in op.path:
        return list(TASK_TRANSITIONS)
    if segment(op.path) == "iterations":
        return ["start", "close"]
    record = _RECORD_OF_SEGMENT[segment(op.path)]
    view = resolve(fill(world, op, "x")).func
    inputs = getattr(getattr(view, "cls", None), "transition_inputs", None)
    if inputs:
        return sorted(inputs)
    return sorted({t.name for t in world[record].get_all_status_transitions()})


def expand(world: World, op: Operation) -> Iterator[tuple[str, str]]:
    """(matrix key, URL) of each request an operation stands for: one per transition."""
    if "{name}" in op.path:
        for name in transition_names(world, op):
            yield f"{op.operation_id}:{name}", fill(world, op, name)
    elif op.operation_id.endswith("_comments_create"):
        for kind in ("public", "internal"):
            yield f"{op.operation_id}:{kind}", fill(world, op)
    else:
        yield op.operation_id, fill(world, op)


# Bodies good enough that a refusal is not hidden behind a 400 for bad input.
def body_for(world: World, op: Operation) -> dict[str, Any]:  # noqa: PLR0915 - one per operation
    w = world
    today = timezone.localdate()
    inc, other = w["incident"], w["other_incident"]
    code = w["project"].code
    owner = w.owner.pk
    bodies: dict[str, dict[str, Any]] = {
        "approvals_decide_create": {"decision": "approved", "comment": "Fine."},
        "articles_create": {"title": "How to", "body": "Do this."},
        "articles_partial_update": {"title": "How to, again"},
        "articles_restore_create": {"version": 1},
        "articles_solved_create": {"incident": inc.key},
        "articles_watchers_create": {"user": owner},
        "auth_token_create": {"username": "me", "password": "pw"},
        "calendars_create": {"name": "Night shift", "always_open": True},
        "calendars_update": {"name": "Spare calendar 2", "always_open": True},
        "calendars_partial_update": {"name": "Spare calendar 3"},
        "canned_replies_create": {"title": "Hello", "body": "Hello there."},
        "canned_replies_partial_update": {"title": "Thanks again"},
        "changes_create": {"title": "Patch", "services": [w["service"].pk]},
        "changes_partial_update": {"title": "Tax tables 2"},
        "changes_caused_incidents_create": {"incident": inc.key},
        "changes_emergency_decisions_create": {
            "change": w["emergency_change_undecided"].key,
            "release": w["release"].pk,
            "project_manager": w["project"].project_manager_id,
            "slip_days": 1,
        },
        "components_create": {"name": "Pensions", "project": code},
        "components_partial_update": {"description": "Payslip PDFs."},
        "defects_create": {"project": code, "title": "Rounding"},
        "enhancements_create": {"project": code, "title": "Dark mode"},
        "defects_partial_update": {"title": "Tax code wrong again"},
        "enhancements_partial_update": {"title": "PDF payslips, A4"},
        "defects_item_links_create": {"kind": "relates", "target": w["enhancement"].key},
        "enhancements_item_links_create": {"kind": "relates", "target": w["defect"].key},
        "defects_dev_links_create": {"url": "https://git.example.test/pay/pull/9"},
        "enhancements_dev_links_create": {"url": "https://git.example.test/pay/pull/8"},
        "defects_links_create": {"incident": inc.key},
        "enhancements_links_create": {"change": w["change"].key},
        "dev_links_create": {
            "url": "https://git.example.test/pay/pull/7",
            "title": f"{w['defect'].key} fix",
        },
        "emergency_decisions_create": {
            "change": w["emergency_change_undecided"].key,
            "release": w["release"].pk,
            "project_manager": w["project"].project_manager_id,
            "slip_days": 1,
        },
        "emergency_decisions_contest_create": {"reason": "Too long."},
        "freeze_windows_create": {
            "name": "Spring",
            "start": f"{today + timedelta(days=100)}T00:00:00Z",
            "end": f"{today + timedelta(days=101)}T00:00:00Z",
        },
        "freeze_windows_update": {
            "name": "Year end 2",
            "start": f"{today + timedelta(days=300)}T00:00:00Z",
            "end": f"{today + timedelta(days=301)}T00:00:00Z",
        },
        "freeze_windows_partial_update": {"name": "Year end 3"},
        "incidents_create": {"title": "Printer jammed", "service": w["service"].pk},
        "incidents_partial_update": {"title": "Payslip wrong, again"},
        "incidents_children_create": {"incident": other.key},
        "incidents_children_destroy": {"incident": w["child_incident"].key},
        "incidents_merge_create": {"master": other.key},
        "incidents_related_create": {"incident": other.key},
        "incidents_related_destroy": {"incident": other.key},
        "incidents_defect_create": {"reason": "A bug.", "project": code},
        "incidents_take_create": {},
        "incidents_bulk_create": {
            "action": "add_watcher",
            "incidents": [inc.key],
            "params": {"user": owner},
        },
        "incidents_watchers_create": {"user": owner},
        "iterations_create": {
            "project": code,
            "name": "Sprint 2",
            "start": str(today + timedelta(days=14)),
            "end": str(today + timedelta(days=25)),
        },
        "iterations_partial_update": {"goal": "Ship it."},
        "notification_preferences_update": {"email": {}},
        "notification_preferences_partial_update": {"email": {}},
        "problems_create": {"title": "Slow", "service": w["service"].pk},
        "problems_partial_update": {"title": "Payslips wrong, still"},
        "problems_incidents_create": {"incidents": [inc.key]},
        "problems_unlink_incident_create": {"incident": other.key},
        "problems_publish_workaround_create": {"workaround": "Print it."},
        "problems_resolve_incidents_create": {"resolution_notes": "Fixed."},
        "projects_create": {"code": "HR", "name": "HR", "team": w["dev_team"].pk},
        "projects_partial_update": {"description": "Payroll things."},
        "releases_create": {"project": code, "version": "2.0"},
        "releases_partial_update": {"name": "First"},
        "releases_change_create": {"change": w["change"].number},
        "releases_move_out_create": {"items": [w["defect"].key], "reason": "Late."},
        "releases_roll_back_create": {"reason": "Broken."},
        "requests_create": {"item": w["catalog_item"].pk, "answers": {}},
        "requests_watchers_create": {"user": owner},
        "satisfaction_answer_create": {"ticket": inc.key, "satisfied": True},
        "saved_views_create": {"name": "Open", "query": {"status": "new"}},
        "saved_views_partial_update": {"name": "Mine 2"},
        "services_create": {"name": "Mail"},
        "services_update": {"name": "Spare service 2"},
        "services_partial_update": {"name": "Spare service 3"},
        "services_roles_create": {"user": owner, "role": "Problem Manager"},
        "sla_policies_create": {
            "name": "P9",
            "calendar": w["calendar"].pk,
            "response_minutes": 10,
            "resolution_minutes": 100,
        },
        "sla_policies_update": {
            "name": "Spare policy 2",
            "calendar": w["calendar"].pk,
            "response_minutes": 10,
            "resolution_minutes": 100,
        },
        "sla_policies_partial_update": {"response_minutes": 20},
        "teams_create": {"name": "Night desk", "tier": 1},
        "teams_update": {"name": "Spare team 2", "tier": 2},
        "teams_partial_update": {"name": "Spare team 3"},
        "time_entries_create": {"target": w["defect"].key, "hours": "1.5"},
        "webhooks_create": {
            "name": "Matrix hook",
            "url": "https://hooks.example.test/in",
            "event_types": ["incident.created"],
        },
        "webhooks_partial_update": {"name": "Matrix hook 2"},
        "webhooks_redeliver_create": {"all_dead": True},
    }
    for kind in ("changes", "defects", "enhancements", "problems", "requests", "articles"):
        bodies.setdefault(f"{kind}_watchers_create", {"user": owner})
    return bodies.get(op.operation_id, {})


# What a transition's body needs (the fields of each record type's inputs).
TRANSITION_BODY: dict[str, Any] = {
    "assign": {"assignee": None},
    "hold": {"reason": "awaiting_vendor"},
    "escalate": {"reason": "Needs 2nd line."},
    "resolve": {"resolution_code": "fixed", "resolution_notes": "Fixed.", "root_cause": "x"},
    "reopen": {"reason": "Still broken."},
    "cancel": {"reason": "No longer needed."},
    "reject": {"reason": "No."},
    "mark_known_error": {"root_cause": "x", "workaround": "y"},
    "fail": {"reason": "Broke."},
    "mark_duplicate": {"duplicate_of": None},
    "wont_fix": {"reason": "No."},
    "roll_back": {"reason": "Broken."},
}


# Query strings an operation needs to answer at all.
QUERY = {"iterations_velocity_retrieve": "?project=PAY"}
# Fields of a body that point at another record: a 400 naming one of them says the user
# may not see what they pointed at (``No project PAY.``), a refusal as a 404 would be.
REFERENCE_FIELDS = frozenset(
    {"project", "incident", "incidents", "change", "master", "target", "item", "release"}
)


def listed(world: World, op: Operation, response: Any) -> bool | None:
    """Whether a list operation's answer shows the world's record of its type (None for an
    operation that is not a list of such records)."""
    record = _RECORD_OF_SEGMENT.get(segment(op.path))
    if op.method != "get" or "{" in op.path or record in (None, "approval"):
        return None
    if record not in world.objects:
        return None
    if op.path != f"/api/v1/{segment(op.path)}/" or response.status_code != 200:
        return None
    data = response.json()
    rows = data.get("results", []) if isinstance(data, dict) else data
    pk = world[record].pk
    return any(isinstance(r, dict) and r.get("id") == pk for r in rows) or any(
        isinstance(r, dict) and r.get("code") == getattr(world[record], "code", object())
        for r in rows
    )


def errors_of(response: Any) -> list[str]:
    try:
        data = response.json()
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return list(data.get("fields") or {})  # the one error shape (core.exceptions.error_body)


def call(
    client: APIClient, world: World, op: Operation, url: str, kind: str = ""
) -> tuple[int, bool | None]:
    """Make the request in a savepoint rolled back after it, so each starts from the
    same world; answer its status code and, for a list, whether it shows the record."""
    body = body_for(world, op)
    if op.operation_id.endswith("_comments_create"):
        body = {"body": "A comment.", "public": kind == "public"}
    if "{name}" in op.path:
        body = dict(TRANSITION_BODY.get(url.rstrip("/").rsplit("/", 1)[-1], {}))
        if "assignee" in body:
            body["assignee"] = world.me.pk
        if "duplicate_of" in body:
            body["duplicate_of"] = world["enhancement"].key
    if "attachments" in op.path and op.method == "post":
        body = {"file": png()}
    with transaction.atomic():
        fmt = "multipart" if "file" in body else "json"
        kwargs: dict[str, Any] = {"format": fmt} if op.method != "get" else {}
        if op.method in ("post", "put", "patch") or (op.method == "delete" and body):
            response = getattr(client, op.method)(url, body, **kwargs)
        else:
            response = getattr(client, op.method)(url + QUERY.get(op.operation_id, ""))
        shown = listed(world, op, response)
        if response.status_code == 400 and REFERENCE_FIELDS & set(errors_of(response)):
            shown = False
        transaction.set_rollback(True)
    refcache.invalidate()  # a rolled-back change to reference data leaves no copy
    return response.status_code, shown


def verdict(status: int, shown: bool | None = None) -> str:
    """allow, deny, or error (a server error or a method the schema should not list). A
    list that answers without the record denies its reading as a 403 would."""
    if shown is not None:
        return "allow" if shown else "deny"
    if status in (401, 403, 404):
        return "deny"
    if status >= 500 or status == 405:
        return "error"
    return "allow"


def dump(results: dict[str, int]) -> str:
    return json.dumps(results, indent=1, sort_keys=True)
