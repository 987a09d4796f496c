"""Issue 14: one role matrix (core.matrix), and the API held to it.

For every role, a user holding only that role (a member of the team every record belongs
to, or the requester of the tickets: tests/core/matrix_world.py) makes every operation of
the live OpenAPI schema, every transition of every record type, in a savepoint rolled
back after each; the answer must allow or deny exactly as the matrix says. An operation
no rule names fails the test, so a new endpoint cannot ship without its row.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core import matrix
from core.roles import Role
from tests.core.matrix_walk import call, expand, schema_operations, verdict
from tests.core.matrix_world import build_world

DOCS = Path(django_settings.BASE_DIR) / "docs" / "roles.md"


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


def test_every_operation_has_a_rule_and_every_rule_a_real_operation() -> None:
    ids = {op.operation_id for op in schema_operations()}
    named = matrix.by_operation()
    missing = sorted(ids - {op.split(":")[0] for op in named})
    assert not missing, f"API operations without a rule in core.matrix: {missing}"
    unknown = sorted(op for op in named if op.split(":")[0] not in ids)
    assert not unknown, f"core.matrix names operations the API does not have: {unknown}"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_the_api_allows_and_denies_as_the_matrix_says(db, sla_policies, role: Role) -> None:  # type: ignore[no-untyped-def]
    world = build_world(role)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(world.me)
    rules = matrix.by_operation()
    differences, unruled = [], []
    for op in schema_operations():
        for key, url in expand(world, op):
            rule = rules.get(key)
            if rule is None:
                unruled.append(key)
                continue
            status, shown = call(client, world, op, url, key.partition(":")[2])
            got = verdict(status, shown)
            want = "allow" if role in rule.roles else "deny"
            if got != want:
                differences.append(f"{op.method.upper()} {url} ({key}): {status}, matrix: {want}")
    assert not unruled, f"operations without a rule in core.matrix: {unruled}"
    assert not differences, f"{role.value}:\n" + "\n".join(differences)


def test_anonymous_callers_are_refused_everything_but_the_public_operations(
    db, sla_policies
) -> None:  # type: ignore[no-untyped-def]
    world = build_world(Role.REQUESTER)
    client = APIClient(raise_request_exception=False)
    wrong = []
    for op in schema_operations():
        for key, url in expand(world, op):
            status, _ = call(client, world, op, url, key.partition(":")[2])
            public = op.operation_id in matrix.PUBLIC_OPERATIONS
            if (status in (401, 403)) == public:
                wrong.append(f"{op.method.upper()} {url}: {status}")
    assert not wrong, "\n".join(wrong)


def test_docs_roles_md_is_the_matrix_rendered() -> None:
    """Regenerate with ``python manage.py role_matrix --markdown > docs/roles.md``."""
    from io import StringIO

    out = StringIO()
    call_command("role_matrix", "--markdown", stdout=out)
    assert DOCS.read_text() == out.getvalue(), "docs/roles.md is stale: regenerate it"


# --- pages: a button only where the matrix allows it -------------------------------------
_TRANSITION = re.compile(r'data-transition="([a-z_]+)"')
# record, page url name, the API operation whose transitions the page's buttons fire
PAGES = [
    ("incident", "itsm:incident_detail", "incidents_transitions_create"),
    ("problem", "itsm:problem_detail", "problems_transitions_create"),
    ("request", "itsm:request_detail", "requests_transitions_create"),
    ("change", "itsm:change_detail", "changes_transitions_create"),
]


def shown_transitions(client: Client, url: str) -> set[str]:
    response = client.get(url)
    if response.status_code != 200:
        return set()
    return set(_TRANSITION.findall(response.content.decode())) - {"edit"}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_pages_offer_only_the_transitions_the_matrix_allows(db, sla_policies, role: Role) -> None:  # type: ignore[no-untyped-def]
    """The ticket pages' transition buttons: never one the matrix denies this role, and on
    the incident page (new, then in progress) every one its state and the matrix allow."""
    from itsm.models import Incident

    world = build_world(role)
    client = Client()
    client.force_login(world.me)
    rules = matrix.by_operation()

    def allowed(op: str, record: object) -> set[str]:
        names = {t.name for t in record.get_available_status_transitions()}  # type: ignore[attr-defined]
        return {n for n in names if (r := rules.get(f"{op}:{n}")) and role in r.roles}

    for record, url_name, op in PAGES:
        obj = world[record]
        shown = shown_transitions(client, reverse(url_name, args=[obj.key]))
        assert shown <= allowed(op, obj), f"{record} page offers {shown - allowed(op, obj)}"
    incident = world["incident"]
    url = reverse("itsm:incident_detail", args=[incident.key])
    assert shown_transitions(client, url) == allowed("incidents_transitions_create", incident)
    page = client.get(url).content.decode()
    actions = ("update", "assign to me", "internal note", "reply (public comment)")
    may = {a: role in matrix.get_rule("incident", a).roles for a in actions}
    assert ('data-transition="edit"' in page) == may["update"]
    assert ('data-action="take"' in page) == may["assign to me"]
    assert ('data-visibility="internal"' in page) == may["internal note"]
    assert ('data-action="comment"' in page) == (
        may["internal note"] or may["reply (public comment)"]
    )
    Incident.objects.filter(pk=incident.pk).update(status="in_progress", assignee=world.owner)
    incident.refresh_from_db()
    expected = allowed("incidents_transitions_create", incident)
    if incident.tier >= 3:
        expected.discard("escalate")
    assert shown_transitions(client, url) == expected


def test_allows_is_the_role_level_half(db) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import UserFactory

    developer = UserFactory(roles=[Role.DEVELOPER])
    requester = UserFactory(roles=[Role.REQUESTER])
    root = UserFactory(is_superuser=True)
    assert matrix.allows(developer, "problem", "view")
    assert not matrix.allows(requester, "problem", "view")
    assert not matrix.allows(developer, "service", "create")
    assert matrix.allows(root, "service", "create")  # a superuser is an Administrator
    assert not matrix.allows(AnonymousUser(), "incident", "view")


def test_permission_functions_read_the_matrix(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where a permission's role-level half is a plain role check, it is the matrix's: take
    the roles away from a rule and the function refuses."""
    from core.roles import can_edit_service_roles
    from itsm.permissions import can_view_change, can_view_problem
    from knowledge.permissions import can_write
    from projects.permissions import can_manage_projects, can_sign_off_uat, can_view
    from tests.factories import UserFactory

    admin = UserFactory(roles=[Role.ADMINISTRATOR])
    checks = [
        lambda: can_view_problem(admin),
        lambda: can_view_change(admin),
        lambda: can_view(admin),
        lambda: can_write(admin),
        lambda: can_manage_projects(admin),
        lambda: can_sign_off_uat(admin, None),
        lambda: can_edit_service_roles(admin),
    ]
    assert all(check() for check in checks)
    monkeypatch.setattr(matrix, "roles_for", lambda record, action: frozenset())
    assert not any(check() for check in checks)


def test_fixes_requesters_read_no_change_management_and_link_no_code(org) -> None:  # type: ignore[no-untyped-def]
    """Found by the matrix: a requester read freeze windows and standard change templates
    (change management is staff's), and the pipeline's link-by-title answered them 200."""
    from tests.conftest import api_as

    requester = api_as(org.requester)
    for url in ("/api/v1/freeze-windows/", "/api/v1/change-templates/"):
        assert requester.get(url).status_code == 403
        assert api_as(org.agent).get(url).status_code == 200
    body = {"url": "https://git.example.test/pay/pull/1", "title": "DEF-1001 fix"}
    assert requester.post("/api/v1/dev-links/", body, format="json").status_code == 403


_ACTION = re.compile(r'data-action="([a-z_-]+)"')
RELEASE_ACTIONS = {
    "sign-off-uat": "sign off UAT",
    "go-live": "go live",
    "roll-back": "roll back",
    "change": "set the deploying change",
    "move-out": "move items out",
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_the_release_page_offers_only_what_the_matrix_allows(db, sla_policies, role: Role) -> None:  # type: ignore[no-untyped-def]
    """The release page's actions, planning and in testing: none the matrix denies the role;
    in planning, exactly the transitions its state and the matrix allow."""
    from projects.models import Release

    world = build_world(role)
    client = Client()
    client.force_login(world.me)
    release = world["release"]
    url = reverse("projects:release", args=[release.pk])

    def may(action: str) -> bool:
        return role in matrix.get_rule("release", action).roles

    def offered() -> set[str]:
        response = client.get(url)
        return (
            set(_ACTION.findall(response.content.decode()))
            if response.status_code == 200
            else set()
        )

    names = {t.name for t in release.get_all_status_transitions()}
    shown = offered()
    state_allows = {t.name for t in release.get_available_status_transitions()}
    assert shown & names == {n for n in state_allows if may(f"transition: {n}")}
    Release.objects.filter(pk=release.pk).update(status="testing")
    for ops in (shown, offered()):
        for op in ops:
            action = RELEASE_ACTIONS.get(op) or (f"transition: {op}" if op in names else None)
            assert action is None or may(action), f"the release page offers {op} to {role}"
