from django.db.models import Prefetch
from rest_framework import viewsets

from core.api.permissions import IsAdministratorOrReadOnly
from core.api.serializers import ServiceSerializer, TeamSerializer
from core.models import Service, Team


class TeamViewSet(viewsets.ModelViewSet):
    queryset = Team.objects.select_related("lead").prefetch_related(Prefetch("members"))
    serializer_class = TeamSerializer
    permission_classes = [IsAdministratorOrReadOnly]
    filterset_fields = ["tier"]
    search_fields = ["name"]
    ordering_fields = ["name", "tier"]
    ordering = ["tier", "name", "id"]


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.select_related("support_team", "development_team")
    serializer_class = ServiceSerializer
    permission_classes = [IsAdministratorOrReadOnly]
    filterset_fields = ["is_active", "support_team", "development_team"]
    search_fields = ["name", "description"]
    ordering_fields = ["name"]
    ordering = ["name", "id"]
