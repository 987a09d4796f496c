"""The Jira Cloud REST API v3 adapter.

Basic auth with the account's e-mail and API token; issues by id or key; fields
``summary``, ``description`` (Atlassian Document Format), ``priority`` and ``status``
(changed by a transition, found by its target status's name); comments in ADF; the
catch-up poll through ``GET /rest/api/3/search/jql`` (``project = X AND updated >=
"yyyy-MM-dd HH:mm"``, UTC, paged by ``nextPageToken``) and the search for Tandem's
marker label (``project = X AND labels = "tandem-…"``). Webhooks are verified as Jira
Cloud signs them: ``X-Hub-Signature: sha256=<HMAC-SHA256 of the raw body with the
webhook's secret>``; ``X-Atlassian-Webhook-Identifier`` names each delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings

from core.outbox import DeliveryFailed
from integrations import http
from integrations.connectors import secrets
from integrations.connectors.base import (
    MalformedPayload,
    RemoteIssue,
    RemoteNote,
    TrackerAdapter,
    WebhookEvent,
)

API = "/rest/api/3"
# Jira's changelog names → Tandem's field names.
CHANGELOG_FIELDS = {
    "summary": "title",
    "description": "description",
    "priority": "priority",
    "status": "status",
}
MAX_PAGES = 100  # a poll reads at most this many pages of 100 issues
# what a label may hold here (Jira's have no spaces; no quote can reach the JQL)
LABEL = re.compile(r"[A-Za-z0-9_.-]{1,255}")


def _project_key(project: str) -> str:
    if not project.replace("_", "").isalnum():
        raise ValueError(f"Not a project key: {project!r}")
    return project


def _label(label: str) -> str:
    if not LABEL.fullmatch(label):
        raise ValueError(f"Not a label: {label!r}")
    return label


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document: a paragraph per block of lines, a hard break
    between the lines of a block."""
    content = []
    for block in (b for b in (text or "").split("\n\n") if b.strip()):
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def adf_text(node: Any) -> str:
    """An Atlassian Document's text: blocks apart by a blank line; marks, links and
    mentions reduced to their text. Anything that is not a node reads as empty."""
    if isinstance(node, str):  # API v2 and some apps send plain text
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "inlineCard"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or "")
    parts = [adf_text(child) for child in node.get("content") or []]
    if kind in ("doc", "blockquote", "bulletList", "orderedList", "listItem", "panel"):
        return "\n\n".join(p for p in parts if p)
    return "".join(parts)


def parse_time(value: Any) -> datetime:
    """Jira's ``2026-12-06T13:22:01.123+0000`` (or ISO 8601) as an aware datetime."""
    if not isinstance(value, str):
        raise MalformedPayload(f"Not a Jira time: {value!r}")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        found = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedPayload(f"Not a Jira time: {value!r}") from exc
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _attr(fields: dict[str, Any], name: str, attr: str) -> str | None:
    """``fields[name][attr]`` of an object field (``{"name": "High"}``); None when absent,
    ``MalformedPayload`` when the field is not an object."""
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedPayload(f"fields.{name} is an object.")
    found = value.get(attr)
    return None if found is None else str(found)


class JiraAdapter(TrackerAdapter):
    # --- HTTP ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, body: Any = None) -> Any:
        connector = self.connector
        answer = http.request(
            method,
            connector.base_url.rstrip("/") + API + path,
            allow_private=connector.allow_private,
            timeout=float(settings.CONNECTOR_TIMEOUT_SECONDS),
            headers={"Accept": "application/json"},
            json=body,
            auth=(connector.auth_email, secrets.api_token(connector)),
        )
        if not answer.body:
            return None
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise DeliveryFailed(
                f"Jira answered {answer.status} with a body that is not JSON."
            ) from exc

    # --- shapes -------------------------------------------------------------------------
    def _issue(self, data: Any) -> RemoteIssue:
        if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
            raise MalformedPayload("An issue needs its id, key and fields.")
        fields = data["fields"]
        issue_id, key = str(data.get("id") or ""), str(data.get("key") or "")
        project = _attr(fields, "project", "key") or key.rpartition("-")[0]
        if not issue_id or not key or not project:
            raise MalformedPayload("An issue needs its id, key and project.")
        summary = fields.get("summary")
        if not isinstance(summary, str):
            raise MalformedPayload("An issue's summary is text.")
        values = {
            "title": summary,
            "description": adf_text(fields.get("description")).strip(),
            "priority": _attr(fields, "priority", "name"),
            "status": _attr(fields, "status", "name"),
        }
        labels = fields.get("labels") or []
        base = self.connector.base_url.rstrip("/")
        return RemoteIssue(
            id=issue_id,
            key=key,
            url=f"{base}/browse/{key}",
            project=str(project),
            updated=parse_time(fields.get("updated")),
            values=values,
            labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
            # Jira leaves it out when the reporter's profile hides it
            reporter_email=_attr(fields, "reporter", "emailAddress") or "",
        )

    def _note(self, data: Any) -> RemoteNote:
        if not isinstance(data, dict) or not data.get("id"):
            raise MalformedPayload("A comment needs its id and body.")
        author = data.get("author") or {}
        return RemoteNote(
            id=str(data["id"]),
            body=adf_text(data.get("body")).strip(),
            author_name=str(author.get("displayName") or "someone"),
            author_email=str(author.get("emailAddress") or ""),
            created=parse_time(data["created"]) if data.get("created") else None,
        )

    def _fields_out(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name == "title":
                out["summary"] = value
            elif name == "description":
                out["description"] = adf(value)
            elif name == "priority":
                out["priority"] = {"name": value}
            else:
                raise ValueError(f"Jira cannot set {name!r} as a field.")
        return out

    # --- the API ------------------------------------------------------------------------
    def get_issue(self, ref: str) -> RemoteIssue:
        return self._issue(self._call("GET", f"/issue/{quote(ref)}"))

    def create_issue(
        self, *, project: str, issue_type: str, values: Mapping[str, Any], label: str = ""
    ) -> RemoteIssue:
        fields: dict[str, Any] = {"project": {"key": project}, "issuetype": {"name": issue_type}}
        fields.update(self._fields_out(values))
        if label:
            fields["labels"] = [_label(label)]
        made = self._call("POST", "/issue", body={"fields": fields})
        if not isinstance(made, dict) or not made.get("id"):
            raise DeliveryFailed("Jira created an issue but did not say which.", permanent=True)
        return self.get_issue(str(made["id"]))

    def issue_labelled(self, *, project: str, label: str) -> RemoteIssue | None:
        jql = (
            f'project = {_project_key(project)} AND labels = "{_label(label)}" ORDER BY created ASC'
        )
        query = {"jql": jql, "maxResults": 1, "fields": "*navigable"}
        page = self._call("GET", f"/search/jql?{urlencode(query)}") or {}
        found = page.get("issues") or []
        return self._issue(found[0]) if found else None

    def update_fields(self, ref: str, values: Mapping[str, Any]) -> None:
        if values:
            self._call("PUT", f"/issue/{quote(ref)}", body={"fields": self._fields_out(values)})

    def set_status(self, ref: str, status: str) -> None:
        found = self._call("GET", f"/issue/{quote(ref)}/transitions") or {}
        for transition in found.get("transitions") or []:
            if ((transition.get("to") or {}).get("name") or "").lower() == status.lower():
                self._call(
                    "POST",
                    f"/issue/{quote(ref)}/transitions",
                    body={"transition": {"id": transition["id"]}},
                )
                return
        raise DeliveryFailed(
            f"Jira offers no transition of {ref} to {status!r}; check the status map.",
            permanent=True,
        )

    def add_comment(self, ref: str, body: str) -> RemoteNote:
        return self._note(
            self._call("POST", f"/issue/{quote(ref)}/comment", body={"body": adf(body)})
        )

    def comments(self, ref: str) -> list[RemoteNote]:
        found = self._call("GET", f"/issue/{quote(ref)}/comment") or {}
        return [self._note(c) for c in found.get("comments") or []]

    def updated_since(self, *, project: str, since: datetime | None) -> Iterator[RemoteIssue]:
        jql = f"project = {_project_key(project)}"
        if since is not None:
            # minutes only in JQL: a minute earlier, so nothing of the minute is missed
            moment = (since.astimezone(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
            jql += f' AND updated >= "{moment}"'
        jql += " ORDER BY updated ASC"
        token = ""
        for _ in range(MAX_PAGES):
            query = {"jql": jql, "maxResults": 100, "fields": "*navigable"}
            if token:
                query["nextPageToken"] = token
            page = self._call("GET", f"/search/jql?{urlencode(query)}") or {}
            for data in page.get("issues") or []:
                yield self._issue(data)
            token = page.get("nextPageToken") or ""
            if page.get("isLast", not token) or not token:
                return

    # --- webhooks -----------------------------------------------------------------------
    def verify_signature(self, *, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get("X-Hub-Signature") or ""
        algorithm, _, digest = given.partition("=")
        if not secret or algorithm != "sha256" or not digest:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, digest.strip().lower())

    def delivery_id(self, headers: Mapping[str, str]) -> str:
        return (headers.get("X-Atlassian-Webhook-Identifier") or "").strip()[:100]

    def read_webhook(self, payload: Any) -> WebhookEvent:
        if not isinstance(payload, dict):
            raise MalformedPayload("A webhook body is a JSON object.")
        event = payload.get("webhookEvent")
        if not isinstance(event, str) or not event:
            raise MalformedPayload("webhookEvent is missing.")
        stamp = payload.get("timestamp")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise MalformedPayload("timestamp (milliseconds) is missing.")
        issue = self._issue(payload.get("issue"))
        comment = self._note(payload["comment"]) if payload.get("comment") is not None else None
        if event.startswith("comment_") and comment is None:
            raise MalformedPayload("A comment event carries its comment.")
        changelog = payload.get("changelog") or {}
        items = changelog.get("items") or [] if isinstance(changelog, dict) else None
        if not isinstance(items, list):
            raise MalformedPayload("changelog.items is a list.")
        changed = frozenset(
            CHANGELOG_FIELDS[i["field"]]
            for i in items
            if isinstance(i, dict) and i.get("field") in CHANGELOG_FIELDS
        )
        try:
            sent_at = datetime.fromtimestamp(stamp / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise MalformedPayload("timestamp is not a time.") from exc
        return WebhookEvent(
            event=event, issue=issue, sent_at=sent_at, comment=comment, changed=changed
        )
