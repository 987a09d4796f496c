"""How work items are organised and connected: labels, components, links between items, and
the commits, branches and pull requests that work on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models.planning import Project, WorkItem


class DevLinkKind(models.TextChoices):
    COMMIT = "commit", "Commit"
    BRANCH = "branch", "Branch"
    PULL_REQUEST = "pull_request", "Pull request"
    LINK = "link", "Link"


class DevLink(models.Model):
    """A commit, branch or pull/merge request that works on a work item, by its URL (the
    kind is read from the URL's shape on GitHub, GitLab and Bitbucket). Written by
    ``projects.services.dev_links``: from the item's page, or by a pipeline that posts
    the URL and title and lets the keys in it (``DEF-1011``) find the items."""

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="dev_links")
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=14, choices=DevLinkKind.choices, default=DevLinkKind.LINK)
    title = models.CharField(max_length=300, blank=True)
    state = models.CharField(
        max_length=20, blank=True, help_text="As the code host says it: open, merged, closed."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "url"], name="uniq_dev_link_url")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.title or self.url}"


class Label(models.Model):
    """A free-form tag of a project's work items, created on first use (normalised:
    lowercase, hyphens for spaces; projects.services.structure.label_normalise)."""

    MAX_LENGTH = 40
    # Labels on one work item: a tag cloud past this is noise, and each label is a row
    # written (and maybe created) in the item's transaction.
    MAX_PER_ITEM = 20

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=MAX_LENGTH)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_label_name")]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """A part of the product a project keeps a list of (Payslips, Login...): kept by the
    Project Manager and the team lead, chosen on work items."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who looks after it (optional).",
    )

    AUDITED_FIELDS = ("name", "description", "lead")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="uniq_component_name")
        ]

    def __str__(self) -> str:
        return self.name


class WorkItemLinkKind(models.TextChoices):
    BLOCKS = "blocks", "blocks"
    RELATES = "relates", "relates to"
    DUPLICATES = "duplicates", "duplicates"


# How a link reads from its target's side: "A blocks B" shows on B as "is blocked by A".
LINK_INVERSE = {
    WorkItemLinkKind.BLOCKS: "is blocked by",
    WorkItemLinkKind.RELATES: "relates to",
    WorkItemLinkKind.DUPLICATES: "is duplicated by",
}


class WorkItemLink(models.Model):
    """A link between two work items (of any projects). One row per pair and kind: the
    other side reads it inverted (``LINK_INVERSE``)."""

    source = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=12, choices=WorkItemLinkKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "kind"], name="uniq_work_item_link"
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="work_item_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"

    def phrase_for(self, item: WorkItem) -> tuple[str, WorkItem]:
        """How the link reads on ``item``'s page: (verb, the other item)."""
        if item.pk == self.source_id:
            return self.get_kind_display(), self.target
        return LINK_INVERSE[WorkItemLinkKind(self.kind)], self.source
