"""factory_boy factories. Tickets are made through their services (the state field is
protected), so a factory-made incident has the same audit trail a real one has."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.models import Service, Team, Tier
from core.roles import Role
from itsm import services
from itsm.models import Incident

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name")
    # unique like the username: people are shown by name, and two "Paul"s would be one
    last_name = factory.LazyAttribute(lambda u: u.username.replace("_", " ").title())
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        for role in extracted or []:
            group, _ = Group.objects.get_or_create(name=role.value)
            self.groups.add(group)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    tier = Tier.SERVICE_DESK

    @factory.post_generation
    def members(self, create: bool, extracted: list | None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if extracted:
            self.members.add(*extracted)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")


def incident(*, actor, service, **kwargs) -> Incident:  # type: ignore[no-untyped-def]
    kwargs.setdefault("title", "Payslip shows the wrong tax code")
    return services.incident_create(actor=actor, service=service, **kwargs)
