from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.models import AuditEvent, Comment, Service, ServiceRole, Team
from core.retire import serializer_check
from core.roles import PROCESS_ROLES, is_staff_member

User = get_user_model()


class UserRefSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:  # type: ignore[no-untyped-def]
        return user.get_full_name() or user.username


class UserSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    roles = serializers.SlugRelatedField(
        source="groups", many=True, read_only=True, slug_field="name"
    )
    teams = serializers.SlugRelatedField(
        source="tandem_teams", many=True, read_only=True, slug_field="name"
    )

    class Meta:
        model = User
        fields = ["id", "username", "name", "email", "roles", "teams"]

    def get_name(self, user) -> str:  # type: ignore[no-untyped-def]
        return user.get_full_name() or user.username


class TeamRefSerializer(serializers.ModelSerializer):
    """A team as a ticket names it. Requesters read it by name only: which support tier
    holds their ticket is how support organises itself (their pages never show it)."""

    tier = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="1, 2 or 3; null for requesters."
    )

    class Meta:
        model = Team
        fields = ["id", "name", "tier"]

    def to_representation(self, team: Team) -> dict:
        data = super().to_representation(team)
        request = self.context.get("request")
        if request is not None and not is_staff_member(request.user):
            data["tier"] = None
        return data


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name"]


class PublicServiceSerializer(serializers.ModelSerializer):
    """A service as a requester sees it: what it is, not who supports it."""

    class Meta:
        model = Service
        fields = ["id", "name", "description", "is_active"]


class TeamSerializer(serializers.ModelSerializer):
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, required=False
    )
    members = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False
    )

    class Meta:
        model = Team
        fields = ["id", "name", "tier", "description", "email", "lead", "members", "is_active"]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "description", "support_team", "development_team", "is_active"]

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        for field, tier in (("support_team", 2), ("development_team", 3)):
            team = attrs.get(field)
            if team is not None and team.tier != tier:
                raise serializers.ValidationError({field: f"Must be a tier-{tier} team."})
            # a retired team supports no new service; the one it names now may stay
            current = getattr(self.instance, f"{field}_id", None)
            serializer_check(team, field=field, current=current)
        return attrs


class AuditEventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "from_state",
            "to_state",
            "changes",
            "comment",
        ]

    def to_representation(self, event: AuditEvent) -> dict:
        # The reader's parts (core.visibility) decide whether field changes are shown.
        data = super().to_representation(event)
        parts = self.context.get("parts")
        if parts is not None:
            data.update(parts.audit_row(event))
        return data


class CommentSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "created_at", "author", "body", "public"]
        read_only_fields = ["id", "created_at", "author"]


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000, trim_whitespace=True)
    public = serializers.BooleanField(default=True)


class ServiceRoleSerializer(serializers.ModelSerializer):
    """Someone holding a process role for one service only."""

    user = UserRefSerializer(read_only=True)
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in PROCESS_ROLES])

    class Meta:
        model = ServiceRole
        fields = ["id", "user", "role"]


class ServiceRoleInput(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    role = serializers.ChoiceField(choices=[(r.value, r.label) for r in PROCESS_ROLES])
