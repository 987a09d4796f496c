"""Articles: support knowledge and development notes in one place, versioned, searchable,
and flagged for review when a release changes what they describe."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class Audience(models.TextChoices):
    PUBLIC = "public", "Public (requesters)"
    INTERNAL = "internal", "Internal (support)"
    DEVELOPMENT = "development", "Development (design and functional notes)"


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


A = ArticleStatus


class Tag(models.Model):
    name = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(ConcurrentTransitionMixin, models.Model):
    KEY_PREFIX = "KB"
    AUDITED_FIELDS = ("title", "audience", "owner", "review_by", "needs_review")

    number = models.PositiveBigIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.INTERNAL)
    services = models.ManyToManyField("core.Service", blank=True, related_name="articles")
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="articles_owned"
    )
    review_by = models.DateField(null=True, blank=True)
    status = FSMField(default=A.DRAFT, choices=A.choices, protected=True, db_index=True)
    needs_review = models.BooleanField(default=False, db_index=True)
    needs_review_reason = models.CharField(max_length=255, blank=True)
    review_release = models.ForeignKey(
        "projects.Release",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles_flagged",
        help_text="The go-live that flagged the article for review.",
    )
    problem = models.OneToOneField(
        "itsm.Problem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="known_error_article",
        help_text="Set for a problem's known-error article.",
    )
    used_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [GinIndex(fields=["search_vector"], name="article_search_idx")]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    def get_absolute_url(self) -> str:
        return f"/kb/{self.key}/"

    @property
    def key(self) -> str:
        return f"{self.KEY_PREFIX}-{self.number}"

    @transition(
        field=status, source=[A.DRAFT], target=A.IN_REVIEW, custom={"label": "Send to review"}
    )
    def submit_review(self) -> None: ...

    @transition(
        field=status, source=[A.IN_REVIEW, A.DRAFT], target=A.PUBLISHED, custom={"label": "Publish"}
    )
    def publish(self) -> None: ...

    @transition(
        field=status,
        source=[A.IN_REVIEW, A.PUBLISHED],
        target=A.DRAFT,
        custom={"label": "Back to draft"},
    )
    def rework(self) -> None: ...

    @transition(
        field=status, source=[A.PUBLISHED, A.DRAFT], target=A.RETIRED, custom={"label": "Retire"}
    )
    def retire(self) -> None: ...


ARTICLE_TRANSITIONS = ("submit_review", "publish", "rework", "retire")


class ArticleVersion(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    # What else the edit set (audience, services, tags, review-by), so a diff between two
    # versions shows every change, not only the text.
    details = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="uniq_article_version")
        ]

    def __str__(self) -> str:
        return f"{self.article.key} v{self.number}"

    def as_lines(self) -> list[str]:
        """The version as the diff compares it: title, what it is filed under, the body."""
        d = self.details
        meta = [
            f"Audience: {d['audience']}" if "audience" in d else "",
            f"Services: {', '.join(d.get('services', [])) or '—'}" if "services" in d else "",
            f"Tags: {', '.join(d.get('tags', [])) or '—'}" if "tags" in d else "",
            f"Review by: {d.get('review_by') or '—'}" if "review_by" in d else "",
        ]
        return [f"# {self.title}", *[m for m in meta if m], "", *self.body.splitlines()]


class ArticleUse(models.Model):
    """An article helped: a requester's problem was solved without an incident
    (deflection), or an agent linked it to an incident."""

    class Kind(models.TextChoices):
        DEFLECTED = "deflected", "Solved it, no incident raised"
        LINKED = "linked", "Linked to an incident"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="uses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    incident = models.ForeignKey(
        "itsm.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles_used",
    )
    query = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # the dashboards' deflections (knowledge.selectors.deflections): uses in a period
        indexes = [models.Index(fields=["created_at"], name="articleuse_created_idx")]

    def __str__(self) -> str:
        return f"{self.article.key} {self.kind}"
