"""Projects, their releases and iterations, and the work items (defects and enhancements)
they deliver, with their lifecycles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ReviewScope(models.TextChoices):
    """Which knowledge articles a go-live flags for review (knowledge.services)."""

    TOUCHED = "touched", "Articles the release touches"
    ALL_SERVICES = "all_services", "Every article of the project's services"


class Project(models.Model):
    code = models.SlugField(max_length=12, unique=True, help_text="Short code, e.g. PAY.")
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        "core.Team",
        on_delete=models.PROTECT,
        related_name="projects",
        help_text="The development team that owns it.",
    )
    services = models.ManyToManyField(
        "core.Service", related_name="projects", help_text="The services it builds."
    )
    project_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The team's working days (release slips are counted in them); "
        "empty: Monday to Friday.",
    )
    review_scope = models.CharField(
        max_length=16,
        choices=ReviewScope.choices,
        default=ReviewScope.TOUCHED,
        help_text="Which articles a go-live flags for review: those linked to the services "
        "of the items it ships or naming their keys, or every article of the project's "
        "services.",
    )
    wip_limits = models.JSONField(
        default=dict,
        blank=True,
        help_text="The board's work-in-progress limit per column, e.g. "
        '{"in_progress": 4}; a column over its limit is flagged, not blocked.',
    )
    # Archived, not deleted: its items, releases and history stay readable, but it takes
    # no new work items, releases or iterations and leaves the lists and create forms.
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    AUDITED_FIELDS = (
        "code",
        "name",
        "description",
        "team",
        "project_manager",
        "calendar",
        "review_scope",
        "wip_limits",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/projects/{self.code}/"

    @property
    def key(self) -> str:
        return self.code

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class ReleaseStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    DEVELOPMENT = "development", "Development"
    TESTING = "testing", "Testing (UAT)"
    AWAITING_GO_LIVE = "awaiting_go_live", "Awaiting go-live"
    LIVE = "live", "Live"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"


RS = ReleaseStatus


class Release(ConcurrentTransitionMixin, models.Model):
    AUDITED_FIELDS = ("version", "name", "planned_date", "description", "change", "notes")

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(max_length=40)
    name = models.CharField(max_length=120, blank=True)
    planned_date = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True, help_text="What the release is about.")
    status = FSMField(default=RS.PLANNING, choices=RS.choices, protected=True, db_index=True)
    change = models.ForeignKey(
        "itsm.Change",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="releases",
        help_text="The change that deploys it.",
    )
    notes = models.TextField(blank=True, help_text="Highlights for the release notes.")
    uat_signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uat_signed_off_at = models.DateTimeField(null=True, blank=True)
    went_live_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    go_live_record = models.JSONField(
        default=dict,
        blank=True,
        help_text="What going live changed (change, work items, problems, incidents told), "
        "so a rollback reverses exactly that.",
    )
    original_planned_date = models.DateField(
        null=True, blank=True, help_text="The date before emergency work moved it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-planned_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="uniq_release_version")
        ]

    def __str__(self) -> str:
        return f"{self.project.code} {self.version}"

    def get_absolute_url(self) -> str:
        return f"/releases/{self.pk}/"

    @property
    def key(self) -> str:
        return str(self)

    @property
    def title(self) -> str:
        return self.name or f"Release {self.version}"

    @property
    def slip_days(self) -> int:
        """How far emergency work moved it, in the project's working days."""
        from projects.working_days import working_days_between

        if self.original_planned_date and self.planned_date:
            return working_days_between(
                self.original_planned_date, self.planned_date, self.project.calendar
            )
        return 0

    @transition(
        field=status,
        source=RS.PLANNING,
        target=RS.DEVELOPMENT,
        custom={"label": "Start development"},
    )
    def start_development(self) -> None: ...

    @transition(
        field=status, source=RS.DEVELOPMENT, target=RS.TESTING, custom={"label": "Hand over to UAT"}
    )
    def start_testing(self) -> None: ...

    @transition(
        field=status,
        source=RS.TESTING,
        target=RS.AWAITING_GO_LIVE,
        custom={"label": "Ready for go-live"},
    )
    def ready(self) -> None: ...

    @transition(
        field=status, source=RS.AWAITING_GO_LIVE, target=RS.LIVE, custom={"label": "Go live"}
    )
    def go_live(self) -> None: ...

    @transition(field=status, source=RS.LIVE, target=RS.ROLLED_BACK, custom={"label": "Roll back"})
    def roll_back(self) -> None: ...

    @transition(
        field=status,
        source=[RS.PLANNING, RS.DEVELOPMENT, RS.TESTING, RS.AWAITING_GO_LIVE],
        target=RS.CANCELLED,
        custom={"label": "Cancel"},
    )
    def cancel(self) -> None: ...


RELEASE_TRANSITIONS = (
    "start_development",
    "start_testing",
    "ready",
    "go_live",
    "roll_back",
    "cancel",
)


class IterationStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


IS = IterationStatus


class Iteration(ConcurrentTransitionMixin, models.Model):
    """A time-box (a sprint) of a project: items are planned into it from the backlog,
    worked, and what is unfinished when it closes moves on. It lives inside or across
    releases: its items keep their own target releases."""

    AUDITED_FIELDS = ("name", "goal", "start", "end")

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="iterations")
    name = models.CharField(max_length=80)
    goal = models.TextField(blank=True)
    start = models.DateField()
    end = models.DateField()
    status = FSMField(default=IS.PLANNED, choices=IS.choices, protected=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Fixed at the transitions, so velocity never re-reads history: what was planned when
    # it started (the commitment) and what was done when it closed.
    committed_hours = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    completed_hours = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="uniq_iteration_name"),
            # One iteration runs at a time per project (the service checks it first, with
            # a message; this is the guarantee under concurrency).
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status="active"),
                name="one_active_iteration",
            ),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="iteration_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/iterations/{self.pk}/"

    @property
    def key(self) -> str:
        return self.name

    @transition(field=status, source=IS.PLANNED, target=IS.ACTIVE, custom={"label": "Start"})
    def start_iteration(self) -> None: ...

    @transition(field=status, source=IS.ACTIVE, target=IS.CLOSED, custom={"label": "Close"})
    def close_iteration(self) -> None: ...


ITERATION_TRANSITIONS = {"start": "start_iteration", "close": "close_iteration"}


class Kind(models.TextChoices):
    DEFECT = "defect", "Defect"
    ENHANCEMENT = "enhancement", "Enhancement"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"
    TRIVIAL = "trivial", "Trivial"


class WorkItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    TRIAGED = "triaged", "Triaged"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    FIXED = "fixed", "Fixed"
    RELEASED = "released", "Released"
    CLOSED = "closed", "Closed"
    WONT_FIX = "wont_fix", "Won't fix"
    DUPLICATE = "duplicate", "Duplicate"


W = WorkItemStatus
WORK_OPEN_STATES = (W.OPEN, W.TRIAGED, W.IN_PROGRESS, W.IN_REVIEW)
# Done in the release it names (fixed_in_release): what release notes may list.
WORK_DONE_STATES = (W.FIXED, W.RELEASED, W.CLOSED)


class WorkItem(ConcurrentTransitionMixin, models.Model):
    """A defect (DEF-…) or an enhancement (ENH-…) in a project's backlog."""

    PREFIXES = {Kind.DEFECT: "DEF", Kind.ENHANCEMENT: "ENH"}
    AUDITED_FIELDS = (
        "title",
        "description",
        "priority",
        "severity",
        "assignee",
        "estimate_hours",
        "target_release",
        "fixed_in_release",
        "duplicate_of",
        "parent",
    )
    # An epic, a story, a sub-task: a child of a child of a top-level item at most.
    MAX_DEPTH = 3

    kind = models.CharField(max_length=12, choices=Kind.choices)
    number = models.PositiveBigIntegerField(editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="work_items")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(default=3, help_text="1 (highest) … 5")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    status = FSMField(default=W.OPEN, choices=W.choices, protected=True, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="work_items",
    )
    estimate_hours = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    target_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="targeted_items"
    )
    fixed_in_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="fixed_items"
    )
    iteration = models.ForeignKey(
        Iteration,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        help_text="The iteration it is planned into; empty: the backlog.",
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The epic or story it is part of (same project, three levels at most).",
    )
    labels = models.ManyToManyField(
        "Label", blank=True, related_name="items", help_text="Free-form tags of the project."
    )
    components = models.ManyToManyField(
        "Component", blank=True, related_name="items", help_text="Parts of the product it touches."
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    incidents = models.ManyToManyField(
        "itsm.Incident",
        blank=True,
        related_name="work_items",
        help_text="Incidents that are symptoms of this defect.",
    )
    changes = models.ManyToManyField(
        "itsm.Change",
        blank=True,
        related_name="work_items",
        help_text="Changes this enhancement delivers.",
    )
    problems = models.ManyToManyField(
        "itsm.Problem",
        blank=True,
        related_name="defects",
        help_text="Problems whose permanent fix this defect is.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "number"], name="uniq_work_key")]
        indexes = [
            # A board column's first cards (backlog order without the incident ranking)
            # and its count, read from the index alone: one short index scan per column
            # at 10 000 items, not a sort of the column.
            models.Index(
                fields=["project", "status", "priority", "-created_at", "-id"],
                name="workitem_column_idx",
            ),
            # The closed and won't-fix columns show their latest cards.
            models.Index(
                fields=["project", "status", "-updated_at", "-id"], name="workitem_latest_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def get_absolute_url(self) -> str:
        return f"/work/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.PREFIXES[self.kind]}-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in WORK_OPEN_STATES

    @staticmethod
    def audit_display(name: str, value: object) -> str | None:
        """Labels and components are kept in audit rows as lists of names."""
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "—"
        return None

    @transition(field=status, source=W.OPEN, target=W.TRIAGED, custom={"label": "Triage"})
    def triage(self) -> None: ...

    @transition(
        field=status, source=[W.OPEN, W.TRIAGED], target=W.IN_PROGRESS, custom={"label": "Start"}
    )
    def start(self) -> None: ...

    @transition(
        field=status, source=W.IN_PROGRESS, target=W.IN_REVIEW, custom={"label": "Send to review"}
    )
    def submit_review(self) -> None: ...

    @transition(
        field=status, source=W.IN_REVIEW, target=W.IN_PROGRESS, custom={"label": "Back to work"}
    )
    def rework(self) -> None: ...

    @transition(
        field=status, source=[W.IN_PROGRESS, W.IN_REVIEW], target=W.FIXED, custom={"label": "Fixed"}
    )
    def fix(self) -> None: ...

    @transition(
        field=status,
        source=W.FIXED,
        target=W.RELEASED,
        custom={"label": "Released", "system": True},
    )
    def release(self) -> None: ...

    @transition(
        field=status, source=[W.FIXED, W.RELEASED], target=W.IN_PROGRESS, custom={"label": "Reopen"}
    )
    def reopen(self) -> None: ...

    @transition(
        field=status,
        source=[W.RELEASED, W.WONT_FIX, W.DUPLICATE],
        target=W.CLOSED,
        custom={"label": "Close"},
    )
    def close(self) -> None: ...

    @transition(
        field=status,
        source=[W.OPEN, W.TRIAGED, W.IN_PROGRESS],
        target=W.WONT_FIX,
        custom={"label": "Won't fix"},
    )
    def wont_fix(self) -> None: ...

    @transition(
        field=status, source=[W.OPEN, W.TRIAGED], target=W.DUPLICATE, custom={"label": "Duplicate"}
    )
    def mark_duplicate(self) -> None: ...


WORK_TRANSITIONS = (
    "triage",
    "start",
    "submit_review",
    "rework",
    "fix",
    "reopen",
    "close",
    "wont_fix",
    "mark_duplicate",
)


# The same linked records, in each side's words: one mapping for every page and message.
TERMS = {
    "incident": {"support": "incident", "development": "defect"},
    "change": {"support": "change", "development": "enhancement"},
}


def term(record: str, side: str) -> str:
    """What ``side`` (support or development) calls the linked ``record``
    (incident/defect or change/enhancement)."""
    for pair in TERMS.values():
        if record in pair.values():
            return pair[side]
    return record
