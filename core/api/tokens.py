"""``/api/v1/tokens/``, where a person lists, creates and revokes their own personal API
tokens (calling ``core.tokens``, as the profile page does), and the schema's description of
how they authenticate (``core.api.authentication``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core import tokens
from core.api.contract import ApiContractMixin
from core.exceptions import NotFound
from core.ids import parse_id
from core.models import PersonalToken, TokenScope


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (tdm_…), created on your profile page "
            "or at /api/v1/tokens/. A read-scope token may only read.",
        }


class TokenSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(help_text="active, expired or revoked")

    class Meta:
        model = PersonalToken
        fields = [
            "id",
            "name",
            "scope",
            "prefix",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_status(self, token: PersonalToken) -> str:
        return tokens.token_status(token)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The token itself. Shown this once: it is not stored."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class TokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=tokens.NAME_MAX)
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When it stops working; empty: the longest allowed (API_TOKEN_MAX_DAYS).",
    )


class TokenViewSet(
    ApiContractMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's own personal API tokens (another person's are a 404). Creating one needs
    a sign-in (session or password-issued token), not a personal token: a leaked token must
    not be able to mint its own successors. Revoking works with any, the token itself too."""

    serializer_class = TokenSerializer
    shown_once_fields = ("token",)  # never kept with an Idempotency-Key's answer
    queryset = PersonalToken.objects.none()  # for the schema; get_queryset scopes to the caller

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return tokens.tokens_of(self.request.user)

    def get_object(self) -> PersonalToken:
        found = self.get_queryset().filter(pk=parse_id(self.kwargs.get("pk"))).first()
        if found is None:
            raise NotFound("No such token.")
        return found

    @extend_schema(request=TokenInput, responses={201: TokenCreatedSerializer})
    def create(self, request: Request) -> Response:
        """Create a token; the answer carries its secret (``token``), shown this once."""
        if isinstance(request.auth, PersonalToken):
            raise PermissionDenied(
                "Sign in (or use the password-issued token) to create tokens; "
                "a personal token cannot create another."
            )
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = tokens.token_create(
            user=request.user,
            name=data.validated_data["name"],
            scope=data.validated_data["scope"],
            expires_at=data.validated_data.get("expires_at"),
            actor=request.user,
        )
        token.token = raw  # type: ignore[attr-defined]
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=TokenSerializer)
    @action(detail=True, methods=["post"], url_path="revoke")
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke it: from now on it authenticates nothing (again is harmless). An
        administrator may revoke anyone's (a leaked token, a person who left)."""
        token = tokens.token_revoke(token_id=parse_id(pk) or 0, actor=request.user)
        return Response(TokenSerializer(token).data)
