"""Who may do what: roles × records × actions, decided once.

Each ``Rule`` names a record type, an action on it, the roles that may take it, the
condition on the record that applies on top of the role (``note``: the requester's own
ticket, a member of its team, the project's people...) and the API operations that carry
it (drf-spectacular's operation ids; a transition is ``<operation>:<name>``).

The role-level half of a permission is read from here: the permission functions of each
app (``itsm.permissions``, ``projects.permissions``, ``knowledge.permissions``, the API's
``core.api.permissions``) ask ``allows(user, record, action)`` where their check is a
plain role check, and add the object-level condition the note describes. The table in
``docs/roles.md`` is rendered from this module (``manage.py role_matrix --markdown``);
``tests/core/test_issue14_role_matrix.py`` walks every API operation as a user of each
role and fails on any allow or deny that differs from it, and on any operation that no
rule names.

Strings, not models: ``core`` sits below every app (imports point one way), and a rule
only names what it is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from core.roles import STAFF_ROLES, Role, User, is_administrator, role_names

R = Role
ALL: frozenset[Role] = frozenset(Role)
STAFF: frozenset[Role] = frozenset(STAFF_ROLES)
NOBODY: frozenset[Role] = frozenset()
ADMIN: frozenset[Role] = frozenset({R.ADMINISTRATOR})
# Who works incidents in team queues (with the Incident Manager above them).
AGENTS: frozenset[Role] = frozenset({R.SERVICE_DESK_AGENT, R.SECOND_LINE, R.DEVELOPER})


def roles(*names: Role) -> frozenset[Role]:
    """A rule's roles; an Administrator may do whatever any role may (``is_administrator``)."""
    return frozenset(names) | ADMIN


@dataclass(frozen=True)
class Rule:
    record: str
    action: str
    roles: frozenset[Role]
    note: str = ""
    api: tuple[str, ...] = ()


RULES: list[Rule] = []  # filled below, in the order of the table

# The only operations a caller who is not signed in may make; every other one answers
# 401/403 to them (the rules' roles are all signed-in people).
PUBLIC_OPERATIONS = frozenset({"auth_token_create"})


def rule(
    record: str, action: str, who: Iterable[Role], note: str = "", api: Iterable[str] = ()
) -> None:
    RULES.append(Rule(record, action, frozenset(who), note, tuple(api)))


@cache
def _index() -> dict[tuple[str, str], Rule]:
    index: dict[tuple[str, str], Rule] = {}
    for r in RULES:
        assert (r.record, r.action) not in index, f"two rules for {r.record} {r.action}"
        index[(r.record, r.action)] = r
    return index


@cache
def by_operation() -> dict[str, Rule]:
    """The rule of each API operation id (``incidents_retrieve``,
    ``incidents_transitions_create:resolve``)."""
    ops: dict[str, Rule] = {}
    for r in RULES:
        for op in r.api:
            assert op not in ops, f"{op} is in two rules"
            ops[op] = r
    return ops


def get_rule(record: str, action: str) -> Rule:
    return _index()[(record, action)]


def roles_for(record: str, action: str) -> frozenset[Role]:
    return get_rule(record, action).roles


def allows(user: User, record: str, action: str) -> bool:
    """The role-level half of a permission: does one of the user's roles allow ``action``
    on ``record``? (The object-level half, the rule's note, is the caller's.)"""
    if not user.is_authenticated:
        return False
    who = roles_for(record, action)
    if R.ADMINISTRATOR in who and is_administrator(user):
        return True
    names = role_names(user)
    return any(role.value in names for role in who)


# The object-level conditions most rules share (their permission functions decide them).
INC_VIEW = "staff any; a requester their own (and one theirs was merged into)"
INC_WORK = (
    "the Incident Manager (global, or for its service) any; an agent in its team's queue, "
    "assigned to it, or (a service-desk member) new with no team yet"
)
PARTS = (
    "what of it they read: core.visibility (a requester reads public replies and the steps "
    "that concern them)"
)
WATCH = "staff who may work it, and the requester on their own ticket (its participants only)"
RQ_WORK = "its fulfilment team's members and its assignee"
PRB = "the Problem Manager (global, or for its service) and its assignee"
PRB_WORK = PRB + ", and its team"
CHG = "the Change Manager (global, or for a service it touches)"
CHG_WORK = CHG + "; its requester, implementer, team and approvers"
PROJ = (
    "the project's people: its team, its Project Manager, Release Managers (global or for "
    "its services)"
)
REL = (
    "Release and Change Managers (global or for the project's services), the project's "
    "Project Manager and its team's lead"
)
PLAN = "Project Managers, the project's Project Manager and its team's lead"
FILE_RM = "the uploader while they may still attach, or an Administrator"


# The rules, record by record (the order of docs/roles.md).
# --- incident ---------------------------------------------------------------
rule("incident", "view", ALL, INC_VIEW, ["incidents_retrieve"])
rule("incident", "list", ALL, INC_VIEW, ["incidents_list"])
rule(
    "incident",
    "create",
    ALL,
    ("a requester raises for themselves; staff on behalf of a caller"),
    ["incidents_create"],
)
rule(
    "incident", "update", AGENTS | roles(R.INCIDENT_MANAGER), INC_WORK, ["incidents_partial_update"]
)
rule(
    "incident",
    "act on many at once",
    STAFF,
    "each incident then as the single action allows",
    ["incidents_bulk_create"],
)
rule(
    "incident",
    "add a child incident",
    AGENTS | roles(R.INCIDENT_MANAGER),
    INC_WORK,
    ["incidents_children_create"],
)
rule(
    "incident",
    "add a watcher",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    WATCH,
    ["incidents_watchers_create"],
)
rule(
    "incident",
    "assign to me",
    AGENTS | roles(R.INCIDENT_MANAGER),
    ("a member of the queue's team, on a new or assigned incident someone else holds"),
    ["incidents_take_create"],
)
rule(
    "incident",
    "attach a file",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    ("whoever works it (public or internal), its requester (public)"),
    ["incidents_attachments_create"],
)
rule(
    "incident",
    "reply (public comment)",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    INC_WORK + "; its requester on their own",
    ["incidents_comments_create:public"],
)
rule(
    "incident",
    "internal note",
    AGENTS | roles(R.INCIDENT_MANAGER),
    INC_WORK,
    ["incidents_comments_create:internal"],
)
rule("incident", "export", ALL, "the rows of the list they may see", ["incidents_export_retrieve"])
rule("incident", "list child incidents", ALL, "", ["incidents_children_list"])
rule("incident", "list related incidents", ALL, "", ["incidents_related_list"])
rule(
    "incident",
    "merge into another",
    AGENTS | roles(R.INCIDENT_MANAGER),
    INC_WORK,
    ["incidents_merge_create"],
)
rule("incident", "read SLA clocks", ALL, PARTS, ["incidents_sla_list"])
rule("incident", "read comments", ALL, PARTS, ["incidents_comments_list"])
rule(
    "incident",
    "read files",
    ALL,
    PARTS + "; public files only for a requester",
    ["incidents_attachments_download_retrieve", "incidents_attachments_list"],
)
rule("incident", "read history", ALL, PARTS, ["incidents_history_list"])
rule(
    "incident",
    "relate another incident",
    AGENTS | roles(R.INCIDENT_MANAGER),
    INC_WORK,
    ["incidents_related_create"],
)
rule(
    "incident",
    "remove a child incident",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_children_destroy"],
)
rule("incident", "remove a file", roles(R.REQUESTER), FILE_RM, ["incidents_attachments_destroy"])
rule(
    "incident",
    "remove a watcher",
    AGENTS | roles(R.INCIDENT_MANAGER),
    WATCH
    + ("; here the watcher removed is another staff member, whom the requester may not remove"),
    ["incidents_watchers_destroy"],
)
rule("incident", "see its defect", STAFF, "", ["incidents_defect_retrieve"])
rule("incident", "see linked records", ALL, "", ["incidents_links_retrieve"])
rule("incident", "see suspect changes and releases", STAFF, "", ["incidents_suspects_list"])
rule("incident", "see the transitions open to them", ALL, "", ["incidents_transitions_list"])
rule("incident", "see watchers", ALL, "", ["incidents_watchers_list"])
rule(
    "incident",
    "send to development (raise or link a defect)",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "who may escalate it (below tier 3), who works it (at tier 3)",
    ["incidents_defect_create"],
)
rule(
    "incident",
    "unrelate an incident",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_related_destroy"],
)
rule(
    "incident",
    "transition: assign",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:assign"],
)
rule(
    "incident",
    "transition: cancel",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    INC_WORK + "; its requester on their own",
    ["incidents_transitions_create:cancel"],
)
rule(
    "incident",
    "transition: close",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    INC_WORK + "; its requester on their own",
    ["incidents_transitions_create:close"],
)
rule(
    "incident",
    "transition: escalate",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:escalate"],
)
rule(
    "incident",
    "transition: hold",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:hold"],
)
rule(
    "incident",
    "transition: reopen",
    AGENTS | roles(R.REQUESTER, R.INCIDENT_MANAGER),
    INC_WORK + "; its requester on their own",
    ["incidents_transitions_create:reopen"],
)
rule(
    "incident",
    "transition: resolve",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:resolve"],
)
rule(
    "incident",
    "transition: resume",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:resume"],
)
rule(
    "incident",
    "transition: start",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["incidents_transitions_create:start"],
)

# --- problem ----------------------------------------------------------------
rule(
    "problem",
    "view",
    STAFF,
    "staff; requesters read a workaround through their incident",
    ["problems_retrieve"],
)
rule("problem", "list", STAFF, "", ["problems_list"])
rule("problem", "create", STAFF, "", ["problems_create"])
rule("problem", "update", roles(R.PROBLEM_MANAGER), PRB, ["problems_partial_update"])
rule("problem", "add a watcher", STAFF, "", ["problems_watchers_create"])
rule("problem", "attach a file", STAFF, "", ["problems_attachments_create"])
rule("problem", "reply (public comment)", STAFF, PRB_WORK, ["problems_comments_create:public"])
rule("problem", "internal note", STAFF, PRB_WORK, ["problems_comments_create:internal"])
rule("problem", "export", ALL, "", ["problems_export_retrieve"])
rule(
    "problem",
    "link incidents",
    roles(R.SERVICE_DESK_AGENT, R.SECOND_LINE, R.DEVELOPER, R.INCIDENT_MANAGER, R.PROBLEM_MANAGER),
    "",
    ["problems_incidents_create"],
)
rule("problem", "list its incidents", STAFF, "", ["problems_incidents_list"])
rule(
    "problem",
    "publish workaround",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_publish_workaround_create"],
)
rule("problem", "read SLA clocks", STAFF, "", ["problems_sla_list"])
rule("problem", "read comments", STAFF, "", ["problems_comments_list"])
rule(
    "problem",
    "read files",
    STAFF,
    "",
    ["problems_attachments_download_retrieve", "problems_attachments_list"],
)
rule("problem", "read history", STAFF, "", ["problems_history_list"])
rule("problem", "remove a file", ADMIN, "", ["problems_attachments_destroy"])
rule("problem", "remove a watcher", STAFF, "", ["problems_watchers_destroy"])
rule(
    "problem",
    "resolve incidents",
    STAFF,
    (
        "after the problem is resolved: whoever works each incident, "
        "and the problem's Problem Manager (answers 409 before that)"
    ),
    ["problems_resolve_incidents_create"],
)
rule("problem", "see candidate problems", STAFF, "", ["problems_candidates_list"])
rule("problem", "see the transitions open to them", STAFF, "", ["problems_transitions_list"])
rule("problem", "see watchers", STAFF, "", ["problems_watchers_list"])
rule(
    "problem", "unlink incident", roles(R.PROBLEM_MANAGER), PRB, ["problems_unlink_incident_create"]
)
rule(
    "problem",
    "transition: cancel",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:cancel"],
)
rule(
    "problem",
    "transition: close",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:close"],
)
rule(
    "problem",
    "transition: investigate",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:investigate"],
)
rule(
    "problem",
    "transition: mark_known_error",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:mark_known_error"],
)
rule(
    "problem",
    "transition: reopen",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:reopen"],
)
rule(
    "problem",
    "transition: resolve",
    roles(R.PROBLEM_MANAGER),
    PRB,
    ["problems_transitions_create:resolve"],
)

# --- service request --------------------------------------------------------
rule("service request", "view", ALL, "staff any; a requester their own", ["requests_retrieve"])
rule("service request", "list", ALL, "staff any; a requester their own", ["requests_list"])
rule("service request", "create", ALL, "", ["requests_create"])
rule("service request", "add a watcher", STAFF, WATCH, ["requests_watchers_create"])
rule(
    "service request",
    "attach a file",
    ALL,
    RQ_WORK + "; its requester (public)",
    ["requests_attachments_create"],
)
rule(
    "service request",
    "reply (public comment)",
    ALL,
    RQ_WORK + "; its requester on their own",
    ["requests_comments_create:public"],
)
rule(
    "service request",
    "internal note",
    STAFF,
    RQ_WORK,
    ["requests_comments_create:internal"],
)
rule("service request", "export", ALL, "", ["requests_export_retrieve"])
rule("service request", "read SLA clocks", ALL, "", ["requests_sla_list"])
rule("service request", "read comments", ALL, "", ["requests_comments_list"])
rule(
    "service request",
    "read files",
    ALL,
    "",
    ["requests_attachments_download_retrieve", "requests_attachments_list"],
)
rule("service request", "read history", ALL, "", ["requests_history_list"])
rule(
    "service request",
    "remove a file",
    roles(R.REQUESTER),
    FILE_RM,
    ["requests_attachments_destroy"],
)
rule("service request", "remove a watcher", STAFF, "", ["requests_watchers_destroy"])
rule("service request", "see approvals", ALL, "", ["requests_approvals_list"])
rule("service request", "see the transitions open to them", ALL, "", ["requests_transitions_list"])
rule("service request", "see watchers", ALL, "", ["requests_watchers_list"])
rule(
    "service request",
    "task transition: cancel",
    STAFF,
    RQ_WORK,
    ["requests_tasks_transitions_create:cancel"],
)
rule(
    "service request",
    "task transition: complete",
    STAFF,
    RQ_WORK,
    ["requests_tasks_transitions_create:complete"],
)
rule(
    "service request",
    "task transition: start",
    STAFF,
    RQ_WORK,
    ["requests_tasks_transitions_create:start"],
)
rule(
    "service request",
    "transition: cancel",
    ALL,
    RQ_WORK + "; its requester on their own",
    ["requests_transitions_create:cancel"],
)
rule(
    "service request",
    "transition: close",
    ALL,
    RQ_WORK + "; its requester on their own",
    ["requests_transitions_create:close"],
)
rule(
    "service request",
    "transition: start_fulfilment",
    STAFF,
    RQ_WORK,
    ["requests_transitions_create:start_fulfilment"],
)

# --- approval ---------------------------------------------------------------
rule("approval", "list", ALL, "their own pending approvals", ["approvals_list"])
rule(
    "approval",
    "decide",
    NOBODY,
    ("only the approver asked (or a member of the group asked); nobody approves their own change"),
    ["approvals_decide_create"],
)

# --- change -----------------------------------------------------------------
rule("change", "view", STAFF, "", ["changes_retrieve"])
rule("change", "list", STAFF, "", ["changes_list"])
rule("change", "create", STAFF, "", ["changes_create"])
rule("change", "update", roles(R.CHANGE_MANAGER), CHG, ["changes_partial_update"])
rule("change", "add a watcher", STAFF, "", ["changes_watchers_create"])
rule("change", "attach a file", STAFF, "", ["changes_attachments_create"])
rule("change", "reply (public comment)", STAFF, CHG_WORK, ["changes_comments_create:public"])
rule("change", "internal note", STAFF, CHG_WORK, ["changes_comments_create:internal"])
rule("change", "export", ALL, "", ["changes_export_retrieve"])
rule("change", "read SLA clocks", STAFF, "", ["changes_sla_list"])
rule("change", "read comments", STAFF, "", ["changes_comments_list"])
rule(
    "change",
    "read files",
    STAFF,
    "",
    ["changes_attachments_download_retrieve", "changes_attachments_list"],
)
rule("change", "read history", STAFF, "", ["changes_history_list"])
rule(
    "change",
    "record an emergency decision",
    roles(R.CHANGE_MANAGER),
    "",
    ["changes_emergency_decisions_create"],
)
rule(
    "change",
    "record an incident it caused",
    roles(R.SERVICE_DESK_AGENT, R.SECOND_LINE, R.DEVELOPER, R.INCIDENT_MANAGER, R.CHANGE_MANAGER),
    "",
    ["changes_caused_incidents_create"],
)
rule("change", "remove a file", ADMIN, "", ["changes_attachments_destroy"])
rule("change", "remove a watcher", STAFF, "", ["changes_watchers_destroy"])
rule("change", "see approvals", STAFF, "", ["changes_approvals_list"])
rule("change", "see emergency decisions", STAFF, "", ["changes_emergency_decisions_list"])
rule("change", "see the transitions open to them", STAFF, "", ["changes_transitions_list"])
rule("change", "see watchers", STAFF, "", ["changes_watchers_list"])
rule(
    "change",
    "transition: assess",
    roles(R.CHANGE_MANAGER),
    CHG,
    ["changes_transitions_create:assess"],
)
rule(
    "change",
    "transition: cancel",
    roles(R.CHANGE_MANAGER),
    CHG + "; its requester",
    ["changes_transitions_create:cancel"],
)
rule(
    "change",
    "transition: close",
    roles(R.CHANGE_MANAGER),
    CHG,
    ["changes_transitions_create:close"],
)
rule(
    "change",
    "transition: complete",
    roles(R.CHANGE_MANAGER),
    CHG + "; its implementer",
    ["changes_transitions_create:complete"],
)
rule(
    "change",
    "transition: fail",
    roles(R.CHANGE_MANAGER),
    CHG + "; its implementer",
    ["changes_transitions_create:fail"],
)
rule(
    "change",
    "transition: implement",
    roles(R.CHANGE_MANAGER),
    CHG + "; its implementer",
    ["changes_transitions_create:implement"],
)
rule(
    "change",
    "transition: request_approval",
    roles(R.CHANGE_MANAGER),
    CHG,
    ["changes_transitions_create:request_approval"],
)
rule(
    "change",
    "transition: schedule",
    roles(R.CHANGE_MANAGER),
    CHG,
    ["changes_transitions_create:schedule"],
)
rule(
    "change",
    "transition: submit",
    roles(R.CHANGE_MANAGER),
    CHG + "; its requester",
    ["changes_transitions_create:submit"],
)

# --- emergency decision -----------------------------------------------------
rule("emergency decision", "view", STAFF, "", ["emergency_decisions_retrieve"])
rule("emergency decision", "list", STAFF, "", ["emergency_decisions_list"])
rule("emergency decision", "create", roles(R.CHANGE_MANAGER), "", ["emergency_decisions_create"])
rule(
    "emergency decision",
    "confirm",
    ADMIN,
    ("the Project Manager the Change Manager named (and Administrators)"),
    ["emergency_decisions_confirm_create"],
)
rule(
    "emergency decision",
    "contest",
    ADMIN,
    ("the Project Manager the Change Manager named (and Administrators)"),
    ["emergency_decisions_contest_create"],
)

# --- project ----------------------------------------------------------------
rule("project", "view", STAFF, "", ["projects_retrieve"])
rule("project", "list", STAFF, "", ["projects_list"])
rule(
    "project",
    "create",
    roles(R.PROJECT_MANAGER),
    "Administrators and Project Managers",
    ["projects_create"],
)
rule(
    "project",
    "update",
    roles(R.PROJECT_MANAGER),
    "Administrators and Project Managers",
    ["projects_partial_update"],
)
rule("project", "archive", roles(R.PROJECT_MANAGER), "", ["projects_archive_create"])
rule("project", "read history", STAFF, "", ["projects_history_list"])
rule("project", "restore", roles(R.PROJECT_MANAGER), "", ["projects_restore_create"])

# --- release ----------------------------------------------------------------
rule("release", "view", STAFF, "", ["releases_retrieve"])
rule("release", "list", STAFF, "", ["releases_list"])
rule(
    "release",
    "create",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER, R.PROJECT_MANAGER),
    REL + "; Project Managers",
    ["releases_create"],
)
rule(
    "release",
    "update",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER, R.PROJECT_MANAGER),
    REL + "; Project Managers",
    ["releases_partial_update"],
)
rule(
    "release",
    "go live",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    "Release and Change Managers (global or for the project's services), through the gate",
    ["releases_go_live_create"],
)
rule(
    "release",
    "move items out",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_move_out_create"],
)
rule("release", "read history", STAFF, "", ["releases_history_list"])
rule("release", "read release notes", STAFF, "", ["releases_notes_retrieve"])
rule(
    "release",
    "roll back",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    "Release and Change Managers (global or for the project's services)",
    ["releases_roll_back_create"],
)
rule("release", "see suspect incidents", STAFF, "", ["releases_suspects_retrieve"])
rule("release", "see the go-live gate", STAFF, "", ["releases_gate_retrieve"])
rule(
    "release",
    "set the deploying change",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_change_create"],
)
rule("release", "sign off UAT", roles(R.SECOND_LINE), "", ["releases_sign_off_uat_create"])
rule(
    "release",
    "transition: cancel",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_transitions_create:cancel"],
)
rule(
    "release",
    "transition: go_live",
    STAFF,
    ("answers 409: go-live goes through release control (`go-live`)"),
    ["releases_transitions_create:go_live"],
)
rule(
    "release",
    "transition: ready",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_transitions_create:ready"],
)
rule(
    "release",
    "transition: roll_back",
    STAFF,
    ("answers 409: roll-back goes through release control (`roll-back`)"),
    ["releases_transitions_create:roll_back"],
)
rule(
    "release",
    "transition: start_development",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_transitions_create:start_development"],
)
rule(
    "release",
    "transition: start_testing",
    roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER),
    REL,
    ["releases_transitions_create:start_testing"],
)

# --- iteration --------------------------------------------------------------
rule("iteration", "view", STAFF, "", ["iterations_retrieve"])
rule("iteration", "list", STAFF, "", ["iterations_list"])
rule("iteration", "create", roles(R.PROJECT_MANAGER), PLAN, ["iterations_create"])
rule("iteration", "update", roles(R.PROJECT_MANAGER), PLAN, ["iterations_partial_update"])
rule("iteration", "see burndown", STAFF, "", ["iterations_burndown_retrieve"])
rule("iteration", "see capacity", STAFF, "", ["iterations_capacity_retrieve"])
rule("iteration", "see velocity", STAFF, "", ["iterations_velocity_retrieve"])
rule(
    "iteration",
    "transition: close",
    roles(R.PROJECT_MANAGER),
    PLAN,
    ["iterations_transitions_create:close"],
)
rule(
    "iteration",
    "transition: start",
    roles(R.PROJECT_MANAGER),
    PLAN,
    ["iterations_transitions_create:start"],
)

# --- component --------------------------------------------------------------
rule("component", "view", STAFF, "", ["components_retrieve"])
rule("component", "list", STAFF, "", ["components_list"])
rule("component", "create", roles(R.PROJECT_MANAGER), PLAN, ["components_create"])
rule("component", "update", roles(R.PROJECT_MANAGER), PLAN, ["components_partial_update"])
rule("component", "delete", roles(R.PROJECT_MANAGER), PLAN, ["components_destroy"])

# --- defect -----------------------------------------------------------------
rule("defect", "view", STAFF, "", ["defects_retrieve"])
rule("defect", "list", STAFF, "", ["defects_list"])
rule("defect", "create", STAFF, "", ["defects_create"])
rule("defect", "update", STAFF, PROJ, ["defects_partial_update"])
rule("defect", "add a development link", STAFF, PROJ, ["defects_dev_links_create"])
rule("defect", "add a watcher", STAFF, PROJ, ["defects_watchers_create"])
rule("defect", "attach a file", STAFF, PROJ, ["defects_attachments_create"])
rule("defect", "reply (public comment)", STAFF, PROJ, ["defects_comments_create:public"])
rule("defect", "internal note", STAFF, PROJ, ["defects_comments_create:internal"])
rule("defect", "export", ALL, "", ["defects_export_retrieve"])
rule("defect", "link work items", STAFF, PROJ, ["defects_item_links_create"])
rule("defect", "read SLA clocks", STAFF, "", ["defects_sla_retrieve"])
rule("defect", "read comments", STAFF, "", ["defects_comments_list"])
rule(
    "defect",
    "read files",
    STAFF,
    "",
    ["defects_attachments_download_retrieve", "defects_attachments_list"],
)
rule("defect", "read history", STAFF, "", ["defects_history_list"])
rule("defect", "remove a development link", STAFF, PROJ, ["defects_dev_links_destroy"])
rule("defect", "remove a file", ADMIN, "", ["defects_attachments_destroy"])
rule("defect", "remove a watcher", STAFF, PROJ, ["defects_watchers_destroy"])
rule("defect", "see development links", STAFF, "", ["defects_dev_links_list"])
rule("defect", "see linked records", STAFF, "", ["defects_links_create"])
rule("defect", "see the transitions open to them", STAFF, "", ["defects_transitions_list"])
rule("defect", "see watchers", STAFF, "", ["defects_watchers_list"])
rule("defect", "see work item links", STAFF, "", ["defects_item_links_list"])
rule("defect", "unlink work items", STAFF, PROJ, ["defects_item_links_destroy"])
rule("defect", "transition: close", STAFF, PROJ, ["defects_transitions_create:close"])
rule("defect", "transition: fix", STAFF, PROJ, ["defects_transitions_create:fix"])
rule(
    "defect",
    "transition: mark_duplicate",
    STAFF,
    PROJ,
    ["defects_transitions_create:mark_duplicate"],
)
rule("defect", "transition: reopen", STAFF, PROJ, ["defects_transitions_create:reopen"])
rule("defect", "transition: rework", STAFF, PROJ, ["defects_transitions_create:rework"])
rule("defect", "transition: start", STAFF, PROJ, ["defects_transitions_create:start"])
rule(
    "defect", "transition: submit_review", STAFF, PROJ, ["defects_transitions_create:submit_review"]
)
rule("defect", "transition: triage", STAFF, PROJ, ["defects_transitions_create:triage"])
rule("defect", "transition: wont_fix", STAFF, PROJ, ["defects_transitions_create:wont_fix"])

# --- enhancement ------------------------------------------------------------
rule("enhancement", "view", STAFF, "", ["enhancements_retrieve"])
rule("enhancement", "list", STAFF, "", ["enhancements_list"])
rule("enhancement", "create", STAFF, "", ["enhancements_create"])
rule("enhancement", "update", STAFF, PROJ, ["enhancements_partial_update"])
rule("enhancement", "add a development link", STAFF, PROJ, ["enhancements_dev_links_create"])
rule("enhancement", "add a watcher", STAFF, PROJ, ["enhancements_watchers_create"])
rule("enhancement", "attach a file", STAFF, PROJ, ["enhancements_attachments_create"])
rule("enhancement", "reply (public comment)", STAFF, PROJ, ["enhancements_comments_create:public"])
rule("enhancement", "internal note", STAFF, PROJ, ["enhancements_comments_create:internal"])
rule("enhancement", "export", ALL, "", ["enhancements_export_retrieve"])
rule("enhancement", "link work items", STAFF, PROJ, ["enhancements_item_links_create"])
rule("enhancement", "read SLA clocks", STAFF, "", ["enhancements_sla_retrieve"])
rule("enhancement", "read comments", STAFF, "", ["enhancements_comments_list"])
rule(
    "enhancement",
    "read files",
    STAFF,
    "",
    ["enhancements_attachments_download_retrieve", "enhancements_attachments_list"],
)
rule("enhancement", "read history", STAFF, "", ["enhancements_history_list"])
rule("enhancement", "remove a development link", STAFF, PROJ, ["enhancements_dev_links_destroy"])
rule("enhancement", "remove a file", ADMIN, "", ["enhancements_attachments_destroy"])
rule("enhancement", "remove a watcher", STAFF, PROJ, ["enhancements_watchers_destroy"])
rule("enhancement", "see development links", STAFF, "", ["enhancements_dev_links_list"])
rule("enhancement", "see linked records", STAFF, "", ["enhancements_links_create"])
rule(
    "enhancement", "see the transitions open to them", STAFF, "", ["enhancements_transitions_list"]
)
rule("enhancement", "see watchers", STAFF, "", ["enhancements_watchers_list"])
rule("enhancement", "see work item links", STAFF, "", ["enhancements_item_links_list"])
rule("enhancement", "unlink work items", STAFF, PROJ, ["enhancements_item_links_destroy"])
rule("enhancement", "transition: close", STAFF, PROJ, ["enhancements_transitions_create:close"])
rule("enhancement", "transition: fix", STAFF, PROJ, ["enhancements_transitions_create:fix"])
rule(
    "enhancement",
    "transition: mark_duplicate",
    STAFF,
    PROJ,
    ["enhancements_transitions_create:mark_duplicate"],
)
rule("enhancement", "transition: reopen", STAFF, PROJ, ["enhancements_transitions_create:reopen"])
rule("enhancement", "transition: rework", STAFF, PROJ, ["enhancements_transitions_create:rework"])
rule("enhancement", "transition: start", STAFF, PROJ, ["enhancements_transitions_create:start"])
rule(
    "enhancement",
    "transition: submit_review",
    STAFF,
    PROJ,
    ["enhancements_transitions_create:submit_review"],
)
rule("enhancement", "transition: triage", STAFF, PROJ, ["enhancements_transitions_create:triage"])
rule(
    "enhancement", "transition: wont_fix", STAFF, PROJ, ["enhancements_transitions_create:wont_fix"]
)

# --- development link -------------------------------------------------------
rule(
    "development link",
    "link from a title",
    STAFF,
    "to the work items named whose project they work on (the rest are reported)",
    ["dev_links_create"],
)

# --- time entry -------------------------------------------------------------
rule("time entry", "list", ALL, "their own", ["time_entries_list"])
rule("time entry", "create", STAFF, "on a ticket they work", ["time_entries_create"])

# --- article ----------------------------------------------------------------
rule("article", "view", ALL, "staff any; others published public articles", ["articles_retrieve"])
rule("article", "list", ALL, "staff any; others published public articles", ["articles_list"])
rule("article", "create", STAFF, "", ["articles_create"])
rule("article", "update", STAFF, "", ["articles_partial_update"])
rule("article", "add a watcher", STAFF, "", ["articles_watchers_create"])
rule("article", "attach a file", STAFF, "", ["articles_attachments_create"])
rule("article", "mark reviewed", STAFF, "", ["articles_reviewed_create"])
rule(
    "article",
    "read files",
    ALL,
    "",
    ["articles_attachments_download_retrieve", "articles_attachments_list"],
)
rule("article", "read history", STAFF, "", ["articles_history_list"])
rule("article", "remove a file", ADMIN, "", ["articles_attachments_destroy"])
rule("article", "remove a watcher", STAFF, "", ["articles_watchers_destroy"])
rule("article", "restore a version", STAFF, "", ["articles_restore_create"])
rule(
    "article",
    "say it solved an incident",
    AGENTS | roles(R.INCIDENT_MANAGER),
    "",
    ["articles_solved_create"],
)
rule("article", "see the transitions open to them", ALL, "", ["articles_transitions_list"])
rule("article", "see versions", STAFF, "", ["articles_versions_list"])
rule("article", "see watchers", ALL, "", ["articles_watchers_list"])
rule("article", "transition: publish", STAFF, "", ["articles_transitions_create:publish"])
rule("article", "transition: retire", STAFF, "", ["articles_transitions_create:retire"])
rule("article", "transition: rework", STAFF, "", ["articles_transitions_create:rework"])
rule(
    "article", "transition: submit_review", STAFF, "", ["articles_transitions_create:submit_review"]
)

# --- service ----------------------------------------------------------------
rule("service", "view", ALL, "", ["services_retrieve"])
rule("service", "list", ALL, "", ["services_list"])
rule("service", "create", ADMIN, "", ["services_create"])
rule("service", "update", ADMIN, "", ["services_partial_update", "services_update"])
rule("service", "delete", ADMIN, "", ["services_destroy"])
rule(
    "service",
    "name a per-service role holder",
    ADMIN,
    "",
    ["services_roles_create", "services_roles_destroy"],
)
rule("service", "see per-service role holders", STAFF, "", ["services_roles_list"])

# --- team -------------------------------------------------------------------
rule("team", "view", STAFF, "", ["teams_retrieve"])
rule("team", "list", STAFF, "", ["teams_list"])
rule("team", "create", ADMIN, "", ["teams_create"])
rule("team", "update", ADMIN, "", ["teams_partial_update", "teams_update"])
rule("team", "delete", ADMIN, "", ["teams_destroy"])
rule("team", "see capacity", STAFF, "", ["teams_capacity_retrieve"])

# --- SLA policy -------------------------------------------------------------
rule("SLA policy", "view", STAFF, "", ["sla_policies_retrieve"])
rule("SLA policy", "list", STAFF, "", ["sla_policies_list"])
rule("SLA policy", "create", ADMIN, "", ["sla_policies_create"])
rule("SLA policy", "update", ADMIN, "", ["sla_policies_partial_update", "sla_policies_update"])
rule("SLA policy", "delete", ADMIN, "", ["sla_policies_destroy"])

# --- calendar ---------------------------------------------------------------
rule("calendar", "view", STAFF, "", ["calendars_retrieve"])
rule("calendar", "list", STAFF, "", ["calendars_list"])
rule("calendar", "create", ADMIN, "", ["calendars_create"])
rule("calendar", "update", ADMIN, "", ["calendars_partial_update", "calendars_update"])
rule("calendar", "delete", ADMIN, "", ["calendars_destroy"])

# --- SLA report -------------------------------------------------------------
rule("SLA report", "view", STAFF, "", ["reports_sla_retrieve"])
rule("SLA report", "export breaches", STAFF, "", ["reports_sla_breaches_export_retrieve"])

# --- freeze window ----------------------------------------------------------
rule("freeze window", "view", STAFF, "", ["freeze_windows_retrieve"])
rule("freeze window", "list", STAFF, "", ["freeze_windows_list"])
rule("freeze window", "create", ADMIN, "", ["freeze_windows_create"])
rule(
    "freeze window", "update", ADMIN, "", ["freeze_windows_partial_update", "freeze_windows_update"]
)
rule("freeze window", "delete", ADMIN, "", ["freeze_windows_destroy"])

# --- standard change template -----------------------------------------------
rule("standard change template", "view", STAFF, "", ["change_templates_retrieve"])
rule("standard change template", "list", STAFF, "", ["change_templates_list"])

# --- catalog item -----------------------------------------------------------
rule("catalog item", "view", ALL, "", ["catalog_items_retrieve"])
rule("catalog item", "list", ALL, "", ["catalog_items_list"])

# --- canned reply -----------------------------------------------------------
rule(
    "canned reply",
    "view",
    STAFF,
    "their own and their teams' shared replies",
    ["canned_replies_retrieve"],
)
rule("canned reply", "list", STAFF, "", ["canned_replies_list"])
rule("canned reply", "create", STAFF, "", ["canned_replies_create"])
rule(
    "canned reply",
    "update",
    STAFF,
    "its owner; a team-shared one, members of that team",
    ["canned_replies_partial_update"],
)
rule("canned reply", "delete", STAFF, "", ["canned_replies_destroy"])
rule("canned reply", "render for a ticket", STAFF, "", ["canned_replies_render_retrieve"])

# --- saved view -------------------------------------------------------------
rule(
    "saved view", "view", STAFF, "their own and their teams' shared views", ["saved_views_retrieve"]
)
rule("saved view", "list", STAFF, "", ["saved_views_list"])
rule("saved view", "create", STAFF, "", ["saved_views_create"])
rule(
    "saved view",
    "update",
    ADMIN,
    "its owner; a team-shared one, its owner or an Administrator",
    ["saved_views_partial_update"],
)
rule(
    "saved view",
    "delete",
    ADMIN,
    "its owner; a team-shared one, its owner or an Administrator",
    ["saved_views_destroy"],
)

# --- bulk job ---------------------------------------------------------------
rule("bulk job", "view", ADMIN, "its author; Administrators", ["bulk_jobs_retrieve"])

# --- satisfaction survey ----------------------------------------------------
rule(
    "satisfaction survey",
    "answer",
    frozenset({R.REQUESTER}),
    "the requester of a resolved ticket that asked them",
    ["satisfaction_answer_create"],
)
rule("satisfaction survey", "see answers", STAFF, "", ["satisfaction_list"])
rule(
    "satisfaction survey",
    "see the report",
    roles(R.INCIDENT_MANAGER),
    "",
    ["satisfaction_report_retrieve"],
)

# --- personal API token -----------------------------------------------------
rule("personal API token", "list", ALL, "their own", ["tokens_list"])
rule("personal API token", "view", ALL, "their own", ["tokens_retrieve"])
rule(
    "personal API token",
    "create",
    ALL,
    "for themselves, signed in or with the shared token (never with a personal one)",
    ["tokens_create"],
)
rule("personal API token", "revoke", ALL, "their own", ["tokens_revoke_create"])

# --- notification -----------------------------------------------------------
rule("notification", "view", ALL, "their own", ["notifications_retrieve"])
rule("notification", "list", ALL, "", ["notifications_list"])
rule("notification", "mark all read", ALL, "", ["notifications_read_all_create"])
rule("notification", "mark read", ALL, "", ["notifications_read_create"])
rule("notification", "see their preferences", ALL, "", ["notification_preferences_list"])
rule(
    "notification",
    "set their preferences",
    ALL,
    "",
    ["notification_preferences_partial_update", "notification_preferences_update"],
)
rule("notification", "unread count", ALL, "", ["notifications_unread_count_retrieve"])
# --- issue 15: e-mail out ---------------------------------------------------
rule(
    "notification",
    "unsubscribe by an e-mail's link",
    ALL,
    "the person the signed link names, without sign-in (RFC 8058 one-click); one family "
    "of their own e-mail off; not on their own tickets' or approvals' notices",
)

# --- user -------------------------------------------------------------------
rule("user", "view", STAFF, "", ["users_retrieve"])
rule("user", "list", STAFF, "", ["users_list"])
rule("user", "see themselves", ALL, "", ["users_me_retrieve"])

# --- API token --------------------------------------------------------------
rule("API token", "create", ALL, "", ["auth_token_create"])

# --- webhook subscription (issue 15: outbound webhooks) -------------------------------
# Administrators only: a subscription sends records out of Tandem as its owner reads them,
# and may be allowed to reach private networks (integrations.permissions).
HOOK = "webhook subscription"
rule(HOOK, "list", ADMIN, "", ["webhooks_list"])
rule(HOOK, "view", ADMIN, "", ["webhooks_retrieve"])
rule(
    HOOK,
    "create",
    ADMIN,
    "the signing secret is shown once; private receivers only if an Administrator allows",
    ["webhooks_create"],
)
rule(HOOK, "update", ADMIN, "", ["webhooks_partial_update"])
rule(HOOK, "delete", ADMIN, "", ["webhooks_destroy"])
rule(HOOK, "list deliveries", ADMIN, "", ["webhooks_deliveries_list"])
rule(HOOK, "redeliver", ADMIN, "dead deliveries of an enabled one", ["webhooks_redeliver_create"])
rule(HOOK, "send a test ping", ADMIN, "an enabled one", ["webhooks_ping_create"])
rule(HOOK, "rotate the secret", ADMIN, "", ["webhooks_rotate_secret_create"])
rule(HOOK, "enable or disable", ADMIN, "the page's buttons; the API's update (is_active)")
rule(HOOK, "read the payload schema", ALL, "documentation", ["webhooks_schema_retrieve"])


# --- Issue 15: two-way tracker sync (integrations.services.connectors) --------------------
rule(
    "defect",
    "resync with the tracker",
    STAFF,
    PROJ + " (the page's Resync button on a defect synced with a tracker; no API operation)",
)
rule(
    "connector",
    "deliver a tracker webhook",
    NOBODY,
    "no user: the tracker itself, proven by the connector's webhook signature (HMAC); a "
    "signed-in user without it is refused (401)",
    ["connectors_webhook_create"],
)

# --- Issue 16: dashboards (dashboards.figures; pages only, no API operation) ------------
_DASHBOARDS = (
    ("Service desk", roles(R.SERVICE_DESK_AGENT, R.SECOND_LINE, R.DEVELOPER, R.INCIDENT_MANAGER)),
    ("Incidents and problems", roles(R.INCIDENT_MANAGER, R.PROBLEM_MANAGER)),
    ("Changes and releases", roles(R.CHANGE_MANAGER, R.RELEASE_MANAGER)),
    ("Projects", roles(R.PROJECT_MANAGER)),
)
for _title, _who in _DASHBOARDS:
    rule("dashboard", f"view the {_title} dashboard", _who, "aggregates over every team")
    rule("dashboard", f"export the {_title} dashboard's figures (CSV)", _who, "")

# --- rendering --------------------------------------------------------------------------
_SHORT = {
    R.REQUESTER: "Req",
    R.SERVICE_DESK_AGENT: "Desk",
    R.SECOND_LINE: "2nd",
    R.DEVELOPER: "Dev",
    R.INCIDENT_MANAGER: "IM",
    R.PROBLEM_MANAGER: "PrM",
    R.CHANGE_MANAGER: "CM",
    R.RELEASE_MANAGER: "RM",
    R.PROJECT_MANAGER: "PjM",
    R.ADMINISTRATOR: "Adm",
}


def markdown() -> str:
    """The matrix as Markdown tables, one per record type (docs/roles.md)."""
    lines = [
        "# Who may do what",
        "",
        "<!-- Generated by `python manage.py role_matrix --markdown > docs/roles.md` from",
        "core/matrix.py; tests/core/test_issue14_role_matrix.py fails when it is stale. -->",
        "",
        "Each row is an action on a record; ✓ marks the roles that may take it. *Condition*",
        "is what must hold of the record on top of the role (a role alone is not enough where",
        "one is given). *API* lists the operations (drf-spectacular operation ids) that",
        "carry the action; the role-matrix test makes each of them as a user of every role.",
        "",
        "Roles: " + ", ".join(f"**{short}** {role.value}" for role, short in _SHORT.items()) + ".",
        "",
        "Process roles (Incident, Problem, Change, Release Manager) held for one service",
        "only (`ServiceRole`) allow the same actions on that service's records.",
        "",
        "Not signed in: only "
        + ", ".join(f"`{op}`" for op in sorted(PUBLIC_OPERATIONS))
        + "; every other operation answers 401 or 403.",
        "",
    ]
    records: list[str] = []
    for r in RULES:
        if r.record not in records:
            records.append(r.record)
    head = "| Action | " + " | ".join(_SHORT.values()) + " | Condition | API |"
    sep = "|---|" + "---|" * len(_SHORT) + "---|---|"
    for record in records:
        lines += [f"## {record}", "", head, sep]
        for r in (r for r in RULES if r.record == record):
            marks = " | ".join("✓" if role in r.roles else "" for role in _SHORT)
            api = ", ".join(f"`{op}`" for op in r.api)
            note = r.note.replace("|", "\\|")
            lines.append(f"| {r.action} | {marks} | {note} | {api} |")
        lines.append("")
    return "\n".join(lines)
