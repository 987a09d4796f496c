from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import paginated
from core.api.serializers import AuditEventSerializer, ServiceRefSerializer, UserRefSerializer
from core.exceptions import ActionForbidden
from core.markdown import render_markdown
from core.models import Service
from core.roles import is_staff_member
from itsm import selectors as itsm_selectors
from itsm.api.tickets import TicketViewSet
from knowledge import selectors, services
from knowledge.filters import ArticleFilter
from knowledge.models import Article, ArticleUse, ArticleVersion, Audience
from knowledge.search import snippet_of

# How support keeps an article: not for requesters.
STAFF_ONLY_FIELDS = frozenset(
    [
        "status",
        "owner",
        "review_by",
        "needs_review",
        "needs_review_reason",
        "problem",
        "version",
        "created_at",
    ]
)


class ArticleSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    owner = UserRefSerializer(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    html = serializers.SerializerMethodField()
    snippet = serializers.SerializerMethodField()
    problem = serializers.CharField(source="problem.key", default=None, allow_null=True)

    class Meta:
        model = Article
        fields = [
            "id",
            "key",
            "title",
            "body",
            "html",
            "snippet",
            "audience",
            "status",
            "services",
            "tags",
            "owner",
            "review_by",
            "needs_review",
            "needs_review_reason",
            "problem",
            "used_count",
            "version",
            "created_at",
            "updated_at",
        ]
        # The schema documents staff's answer; a requester's leaves these out.
        schema_optional = STAFF_ONLY_FIELDS

    def get_html(self, article: Article) -> str:
        return render_markdown(article.body)

    def get_snippet(self, article: Article) -> str | None:
        q = self.context.get("q")
        return snippet_of(article, q) if q else None


class PublicArticleSerializer(ArticleSerializer):
    """What a requester reads: the article, not how support keeps it (owner, state,
    review flags, the problem behind a known error)."""

    class Meta(ArticleSerializer.Meta):
        fields = [f for f in ArticleSerializer.Meta.fields if f not in STAFF_ONLY_FIELDS]


class ArticleWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(required=False)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    services = serializers.PrimaryKeyRelatedField(
        queryset=Service.objects.all(), many=True, required=False
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    review_by = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A field the client thinks it set but we would ignore is a bug on their side.
        unknown = set(getattr(self, "initial_data", {})) - set(self.fields)
        if unknown:
            hint = {"status": "The status moves through /transitions/{name}/."}
            raise serializers.ValidationError(
                {f: [hint.get(f, "This field cannot be written.")] for f in sorted(unknown)}
            )
        return attrs


class VersionSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ArticleVersion
        fields = ["number", "title", "body", "details", "author", "note", "created_at"]


class _Comment(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class SolvedInput(serializers.Serializer):
    incident = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Link to this incident; empty: a deflection.",
    )
    q = serializers.CharField(required=False, allow_blank=True, default="")


class ReviewedInput(serializers.Serializer):
    review_by = serializers.DateField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RestoreInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ArticleViewSet(TicketViewSet):
    """Articles. ``?q=`` searches (full text on PostgreSQL: ranked, with highlighted
    snippets); requesters only ever find published public articles."""

    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    transition_inputs = {n: _Comment for n in ("submit_review", "publish", "rework", "retire")}
    transition_services = services.ARTICLE_TRANSITION_SERVICES
    ticket_kwarg = "article"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        # ?q= (ArticleFilter) orders by rank instead.
        return selectors.article_list(self.request.user).order_by("-updated_at", "-id")

    @classmethod
    def get_extra_actions(cls):  # type: ignore[no-untyped-def]
        # Articles take edits, not comments, and have no SLA clocks.
        return [a for a in super().get_extra_actions() if a.__name__ not in ("comments", "sla")]

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False) or is_staff_member(self.request.user):
            return ArticleSerializer
        return PublicArticleSerializer

    @extend_schema(responses=AuditEventSerializer(many=True))
    @paginated
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The audit trail of the article (staff)."""
        if not is_staff_member(request.user):
            raise ActionForbidden("The history of an article is for staff.")
        return super().history(request, pk)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "q": self.request.query_params.get("q")}

    def find(self, ref: str) -> Any:
        return selectors.article_get(self.request.user, ref)

    def ensure_can_fire(self, user: Any, ticket: Any, name: str) -> None:
        from knowledge.services import _ensure

        _ensure(user, ticket, name)

    def transitions_for(self, user: Any, ticket: Any) -> list[str]:
        if not is_staff_member(user):
            return []
        return [
            t.name
            for t in ticket.get_available_status_transitions()
            if t.name in self.transition_inputs
        ]

    def add_comment(self, ticket: Any, user: Any, body: str, public: bool) -> Any:
        raise ActionForbidden("Articles take edits, not comments.")

    @extend_schema(
        request=ArticleWriteSerializer,
        responses={201: ArticleSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ArticleWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data.pop("note", None)
        article = services.article_create(actor=request.user, **data)
        return self.present(article, status_code=201)

    @extend_schema(request=ArticleWriteSerializer, responses=ArticleSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        body = ArticleWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        article = services.article_update(
            article=self.get_object(), actor=request.user, **body.validated_data
        )
        return self.present(article)

    @extend_schema(responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="versions")
    def versions(self, request: Request, pk: str | None = None) -> Response:
        article = self.get_object()
        if not is_staff_member(request.user):
            raise ActionForbidden("Versions are for staff.")
        return Response(
            VersionSerializer(article.versions.select_related("author"), many=True).data
        )

    @extend_schema(
        request=SolvedInput,
        responses={
            201: inline_serializer(
                "ArticleUse",
                {
                    "kind": serializers.ChoiceField(choices=ArticleUse.Kind.choices),
                    "used_count": serializers.IntegerField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="solved")
    def solved(self, request: Request, pk: str | None = None) -> Response:
        """'This solved it': a deflection, or a link to the named incident."""
        body = SolvedInput(data=request.data)
        body.is_valid(raise_exception=True)
        article = self.get_object()
        ref = body.validated_data["incident"]
        incident = itsm_selectors.incident_get(request.user, ref) if ref else None
        use = services.article_used(
            article=article, actor=request.user, incident=incident, query=body.validated_data["q"]
        )
        article.refresh_from_db(fields=["used_count"])
        return Response({"kind": use.kind, "used_count": article.used_count}, status=201)

    @extend_schema(request=RestoreInput, responses=ArticleSerializer)
    @action(detail=True, methods=["post"], url_path="restore")
    def restore(self, request: Request, pk: str | None = None) -> Response:
        """Bring back an old version's content as a new version (nothing is lost)."""
        body = RestoreInput(data=request.data)
        body.is_valid(raise_exception=True)
        article = services.article_restore(
            article=self.get_object(), actor=request.user, number=body.validated_data["version"]
        )
        return self.present(article)

    @extend_schema(request=ReviewedInput, responses=ArticleSerializer)
    @action(detail=True, methods=["post"], url_path="reviewed")
    def reviewed(self, request: Request, pk: str | None = None) -> Response:
        """The article was checked and still holds: clears *needs review*, optionally
        sets the next review date."""
        body = ReviewedInput(data=request.data)
        body.is_valid(raise_exception=True)
        article = services.article_mark_reviewed(
            article=self.get_object(), actor=request.user, **body.validated_data
        )
        return self.present(article)
