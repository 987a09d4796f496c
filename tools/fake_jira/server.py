"""A fake Jira Cloud: the REST API v3 shapes Tandem's connector speaks, kept in memory.

Standalone (the standard library only), so it runs for a demo (``python -m
tools.fake_jira``) and in the tests (``FakeJira(...).running()`` on a free port, in a
thread). It covers what the adapter uses, no more:

- basic auth (an account's e-mail and API token), 401 otherwise;
- ``GET/PUT /rest/api/3/issue/{idOrKey}``, ``POST /rest/api/3/issue``;
- ``GET/POST /rest/api/3/issue/{key}/transitions`` (a simplified workflow: any status to
  any other);
- ``GET/POST /rest/api/3/issue/{key}/comment`` (bodies in Atlassian Document Format);
- ``GET /rest/api/3/search/jql`` with the JQL ``project = X [AND labels = "x"] [AND
  updated >= "yyyy-MM-dd HH:mm"] [ORDER BY updated|created ASC]`` and ``nextPageToken``
  paging;
- issues with summary, description (ADF), status, priority, labels (set on create and by
  an edit, returned on read), created, updated, reporter and assignee.

A change made through the API is sent as a Jira-shaped webhook (``webhookEvent``
``jira:issue_created``, ``jira:issue_updated`` with a ``changelog``, ``comment_created``
with the ``comment``; ``timestamp`` in milliseconds) to the configured URL, signed as
Jira Cloud signs a webhook that has a secret: ``X-Hub-Signature: sha256=<HMAC-SHA256 of
the body, hex>``, with an ``X-Atlassian-Webhook-Identifier``. Webhooks go from a
background thread after the answer, as Jira sends them (never inside the request).

Every request received is kept (``requests``), and every webhook sent (``webhooks``), so
a test can assert what reached the remote side. ``fail_next`` scripts error answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATUSES = ("To Do", "In Progress", "In Review", "Done")
STATUS_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate"}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
PAGE_SIZE = 50


def jira_time(moment: datetime | None = None) -> str:
    """Jira's timestamps: ``2026-12-06T13:22:01.123+0000``."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document: a paragraph per blank-line-separated block."""
    blocks = [b for b in (text or "").split("\n\n") if b.strip()]
    content = []
    for block in blocks:
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def adf_text(node: Any) -> str:
    """The text of an Atlassian Document (paragraphs apart by a blank line)."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    parts = [adf_text(child) for child in node.get("content") or []]
    if kind == "doc":
        return "\n\n".join(p for p in parts if p)
    return "".join(parts)


@dataclass
class Account:
    email: str
    token: str
    display_name: str
    account_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])

    def user(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "displayName": self.display_name,
            "emailAddress": self.email,
            "active": True,
        }


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SentWebhook:
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class NotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class FakeJira:
    """The remote side's state and its HTTP server (``running()`` starts it)."""

    def __init__(
        self,
        *,
        accounts: list[Account] | None = None,
        projects: tuple[str, ...] = ("PAY",),
        webhook_url: str = "",
        webhook_secret: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accounts = {a.email: a for a in accounts or []}
        self.projects = {p: str(10000 + i) for i, p in enumerate(projects)}
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.host, self.port = host, port
        self.url = ""
        # a search answers at most this many issues a page (Jira Cloud: 100; tests lower it)
        self.page_size = 100
        self.issues: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.webhooks: list[SentWebhook] = []
        self._ids = itertools.count(10001)
        self._comment_ids = itertools.count(20001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._failures: list[tuple[int, str, str]] = []  # (status, method, path part)
        self._lock = threading.RLock()
        self._outgoing: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()

    # --- for tests and the demo --------------------------------------------------------
    def account(self, email: str, token: str, display_name: str) -> Account:
        found = Account(email, token, display_name)
        self.accounts[email] = found
        return found

    def fail_next(self, status: int, *, count: int = 1, method: str = "", path: str = "") -> None:
        """Answer the next ``count`` requests (of ``method``, whose path contains ``path``)
        with ``status`` and a Jira error body, before doing anything."""
        with self._lock:
            self._failures.extend([(status, method.upper(), path)] * count)

    def issue(self, key: str) -> dict[str, Any]:
        """An issue as the API answers it."""
        with self._lock:
            return self._render(self._find(key))

    def requests_to(self, method: str = "", path: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (not method or r.method == method.upper()) and path in r.path
        ]

    def wait_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until every webhook queued so far has been sent (or failed)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("webhooks still pending")
                self._idle.wait(left)

    @contextmanager
    def running(self) -> Iterator[FakeJira]:
        server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        server.daemon_threads = True
        self.url = f"http://{self.host}:{server.server_address[1]}"
        threads = [
            threading.Thread(target=server.serve_forever, daemon=True),
            threading.Thread(target=self._send_webhooks, daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self._outgoing.put(None)
            server.shutdown()
            server.server_close()

    # --- the API ---------------------------------------------------------------------
    def authenticate(self, header: str | None) -> Account | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            email, _, token = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        account = self.accounts.get(email)
        if account is None or not hmac.compare_digest(account.token, token):
            return None
        return account

    def failure_for(self, method: str, path: str) -> int | None:
        with self._lock:
            for i, (status, m, part) in enumerate(self._failures):
                if (not m or m == method) and part in path:
                    del self._failures[i]
                    return status
        return None

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any, who: Account):
        with self._lock:
            m = re.fullmatch(r"/rest/api/3/issue/([^/]+)(/transitions|/comment)?/?", path)
            if path.rstrip("/") == "/rest/api/3/issue" and method == "POST":
                return 201, self.create_issue(body, who)
            if path.rstrip("/") == "/rest/api/3/search/jql" and method == "GET":
                return 200, self.search(query)
            if path.rstrip("/") == "/rest/api/3/myself" and method == "GET":
                return 200, who.user()
            if not m:
                raise NotFound
            issue = self._find(m.group(1))
            tail = m.group(2)
            if tail is None and method == "GET":
                return 200, self._render(issue)
            if tail is None and method == "PUT":
                self.edit_issue(issue, body, who)
                return 204, None
            if tail == "/transitions" and method == "GET":
                return 200, {"transitions": _transitions(issue["status"])}
            if tail == "/transitions" and method == "POST":
                self.transition(issue, body, who)
                return 204, None
            if tail == "/comment" and method == "GET":
                rendered = [self._render_comment(c) for c in issue["comments"]]
                return 200, {
                    "startAt": 0,
                    "maxResults": len(rendered),
                    "total": len(rendered),
                    "comments": rendered,
                }
            if tail == "/comment" and method == "POST":
                return 201, self.add_comment(issue, body, who)
            raise NotFound

    def create_issue(self, body: Any, who: Account) -> dict[str, Any]:
        fields = (body or {}).get("fields")
        if not isinstance(fields, dict):
            raise BadRequest("fields: required")
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            raise BadRequest("project: valid project is required")
        if not str(fields.get("summary") or "").strip():
            raise BadRequest("summary: You must specify a summary of the issue.")
        issue_id = str(next(self._ids))
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        now = jira_time()
        issue = {
            "id": issue_id,
            "key": f"{project}-{number}",
            "project": project,
            "issuetype": (fields.get("issuetype") or {}).get("name") or "Bug",
            "summary": str(fields["summary"]),
            "description": fields.get("description"),
            "status": "To Do",
            "priority": _priority(fields.get("priority")) or "Medium",
            "labels": _labels(fields.get("labels")),
            "reporter": who.user(),
            "assignee": None,
            "created": now,
            "updated": now,
            "comments": [],
        }
        self.issues[issue_id] = issue
        self._webhook("jira:issue_created", issue, who)
        return {"id": issue_id, "key": issue["key"], "self": self._self(issue)}

    def edit_issue(self, issue: dict[str, Any], body: Any, who: Account) -> None:
        fields = (body or {}).get("fields")
        if not isinstance(fields, dict):
            raise BadRequest("fields: required")
        items = []
        for name, value in fields.items():
            if name == "summary":
                new: Any = str(value)
            elif name == "description":
                new = value
            elif name == "priority":
                new = _priority(value)
                if new is None:
                    raise BadRequest("priority: not a priority")
            elif name == "labels":
                new = _labels(value)
            elif name == "status":
                raise BadRequest("status: use a transition")
            else:
                raise BadRequest(f"{name}: Field '{name}' cannot be set.")
            old = issue[name]
            if old != new:
                issue[name] = new
                items.append(_change(name, old, new))
        if items:
            issue["updated"] = jira_time()
            self._webhook("jira:issue_updated", issue, who, changelog=items)

    def transition(self, issue: dict[str, Any], body: Any, who: Account) -> None:
        wanted = str(((body or {}).get("transition") or {}).get("id") or "")
        target = next((t for t in _transitions(issue["status"]) if t["id"] == wanted), None)
        if target is None:
            raise BadRequest("transition: not a valid transition for this issue")
        old = issue["status"]
        issue["status"] = target["to"]["name"]
        issue["updated"] = jira_time()
        self._webhook(
            "jira:issue_updated", issue, who, changelog=[_change("status", old, issue["status"])]
        )

    def add_comment(self, issue: dict[str, Any], body: Any, who: Account) -> dict[str, Any]:
        doc = (body or {}).get("body")
        if not isinstance(doc, dict) or doc.get("type") != "doc":
            raise BadRequest("body: Comment body must be an Atlassian Document.")
        now = jira_time()
        comment = {
            "id": str(next(self._comment_ids)),
            "body": doc,
            "author": who.user(),
            "created": now,
            "updated": now,
        }
        issue["comments"].append(comment)
        issue["updated"] = now
        self._webhook("comment_created", issue, who, comment=comment)
        return self._render_comment(comment)

    def search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        jql = (query.get("jql") or [""])[0]
        m = re.fullmatch(
            r'\s*project\s*=\s*"?([A-Z][A-Z0-9_]*)"?'
            r'(?:\s+AND\s+labels\s*=\s*"([^"\s]+)")?'
            r'(?:\s+AND\s+updated\s*>=\s*"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})")?'
            r"(?:\s+ORDER\s+BY\s+(updated|created)\s+ASC)?\s*",
            jql,
            re.IGNORECASE,
        )
        if not m:
            raise BadRequest(
                'jql: this fake understands only project = X [AND labels = "x"] '
                f"[AND updated >= …] [ORDER BY updated|created ASC]: {jql}"
            )
        project, label, since = m.group(1), m.group(2), m.group(3)
        order = (m.group(4) or "updated").lower()
        size = min(int((query.get("maxResults") or [PAGE_SIZE])[0]), self.page_size)
        start = int((query.get("nextPageToken") or ["0"])[0] or 0)
        found = [
            i
            for i in sorted(self.issues.values(), key=lambda i: (i[order], int(i["id"])))
            if i["project"] == project
            and (label is None or label in i["labels"])
            and (since is None or i["updated"][:16] >= _jql_time(since))
        ]
        page = found[start : start + size]
        out: dict[str, Any] = {"issues": [self._render(i) for i in page]}
        if start + size < len(found):
            out["nextPageToken"] = str(start + size)
            out["isLast"] = False
        else:
            out["isLast"] = True
        return out

    # --- shapes -----------------------------------------------------------------------
    def _find(self, ref: str) -> dict[str, Any]:
        if ref in self.issues:
            return self.issues[ref]
        for issue in self.issues.values():
            if issue["key"] == ref:
                return issue
        raise NotFound

    def _self(self, issue: dict[str, Any]) -> str:
        return f"{self.url}/rest/api/3/issue/{issue['id']}"

    def _render(self, issue: dict[str, Any]) -> dict[str, Any]:
        status = issue["status"]
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": self._self(issue),
            "fields": {
                "project": {"key": issue["project"], "id": self.projects[issue["project"]]},
                "issuetype": {"name": issue["issuetype"]},
                "summary": issue["summary"],
                "description": issue["description"],
                "status": {
                    "name": status,
                    "id": str(STATUSES.index(status) + 1),
                    "statusCategory": {"key": STATUS_CATEGORY.get(status, "done")},
                },
                "priority": {
                    "name": issue["priority"],
                    "id": str(PRIORITIES.index(issue["priority"]) + 1),
                },
                "labels": list(issue["labels"]),
                "reporter": issue["reporter"],
                "assignee": issue["assignee"],
                "created": issue["created"],
                "updated": issue["updated"],
            },
        }

    def _render_comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        return dict(comment)

    # --- webhooks --------------------------------------------------------------------
    def _webhook(
        self,
        event: str,
        issue: dict[str, Any],
        who: Account,
        *,
        changelog: list[dict[str, Any]] | None = None,
        comment: dict[str, Any] | None = None,
    ) -> None:
        if not self.webhook_url:
            return
        payload: dict[str, Any] = {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": event,
            "user": who.user(),
            "issue": self._render(issue),
        }
        if event == "jira:issue_updated":
            payload["issue_event_type_name"] = "issue_generic"
            payload["changelog"] = {"id": str(next(self._ids)), "items": changelog or []}
        if comment is not None:
            payload["comment"] = self._render_comment(comment)
        with self._idle:
            self._pending += 1
        self._outgoing.put((self.webhook_url, json.dumps(payload).encode()))

    def signed_headers(self, body: bytes, identifier: str | None = None) -> dict[str, str]:
        """The headers Jira Cloud sends with a webhook that has a secret."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4()),
        }
        if self.webhook_secret:
            digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        return headers

    def _send_webhooks(self) -> None:
        while True:
            item = self._outgoing.get()
            if item is None:
                return
            url, body = item
            headers = self.signed_headers(body)
            sent = SentWebhook(url, headers, body, None)
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=30) as answer:  # noqa: S310
                    sent.status = answer.status
            except urllib.error.HTTPError as exc:
                sent.status, sent.error = exc.code, exc.read().decode(errors="replace")[:500]
            except OSError as exc:
                sent.error = str(exc)
            self.webhooks.append(sent)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()


def _priority(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, dict) else None
    if name is None and isinstance(value, dict) and value.get("id"):
        index = int(value["id"]) - 1
        name = PRIORITIES[index] if 0 <= index < len(PRIORITIES) else None
    return name if name in PRIORITIES else None


def _labels(value: Any) -> list[str]:
    """Labels as Jira takes them: a list of words (a space in one is a 400)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise BadRequest("labels: a list of strings")
    if any(not x or any(c.isspace() for c in x) or len(x) > 255 for x in value):
        raise BadRequest("labels: a label cannot contain spaces")
    return list(value)


def _transitions(current: str) -> list[dict[str, Any]]:
    return [
        {"id": str((i + 1) * 10 + 1), "name": status, "to": {"name": status, "id": str(i + 1)}}
        for i, status in enumerate(STATUSES)
        if status != current
    ]


def _change(name: str, old: Any, new: Any) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, dict):
            return adf_text(value)
        if isinstance(value, list):
            return " ".join(value)
        return str(value)

    return {"field": name, "fieldtype": "jira", "fromString": text(old), "toString": text(new)}


def _jql_time(value: str) -> str:
    """JQL's ``yyyy-MM-dd HH:mm`` as the first 16 characters of a Jira timestamp."""
    return value.replace(" ", "T")


def _handler(jira: FakeJira) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Recorded(
                self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), raw
            )
            jira.requests.append(seen)
            status, out = self._answer(seen)
            seen.status = status
            data = b"" if out is None else json.dumps(out).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, seen: Recorded) -> tuple[int, Any]:
            failure = jira.failure_for(seen.method, seen.path)
            if failure is not None:
                return failure, {"errorMessages": [f"Scripted failure {failure}."], "errors": {}}
            who = jira.authenticate(self.headers.get("Authorization"))
            if who is None:
                return 401, {"errorMessages": ["Client must be authenticated."], "errors": {}}
            try:
                body = json.loads(seen.body) if seen.body else None
            except ValueError:
                return 400, {"errorMessages": ["Unexpected character in JSON."], "errors": {}}
            try:
                return jira.route(seen.method, seen.path, seen.query, body, who)
            except NotFound:
                return 404, {
                    "errorMessages": [
                        "Issue does not exist or you do not have permission to see it."
                    ],
                    "errors": {},
                }
            except BadRequest as exc:
                name, _, text = str(exc).partition(": ")
                return 400, {"errorMessages": [], "errors": {name: text}}

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    return Handler
