"""Demo organisation: one user per role, teams for the three tiers, services."""

from __future__ import annotations

from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.models import Service, ServiceRole, Team, Tier
from core.roles import Role, ensure_role_groups
from core.service_roles import service_role_assign

User = get_user_model()
DEMO_PASSWORD = "demo"

# username, full name, role
DEMO_USERS = [
    ("requester", "Rita Requester", Role.REQUESTER),
    ("requester2", "Ravi Requester", Role.REQUESTER),
    ("agent", "Alex Agent", Role.SERVICE_DESK_AGENT),
    ("support2", "Sam Second-Line", Role.SECOND_LINE),
    ("developer", "Dana Developer", Role.DEVELOPER),
    ("incident_manager", "Ines Incident-Manager", Role.INCIDENT_MANAGER),
    ("problem_manager", "Pavel Problem-Manager", Role.PROBLEM_MANAGER),
    ("change_manager", "Chloe Change-Manager", Role.CHANGE_MANAGER),
    ("release_manager", "Rob Release-Manager", Role.RELEASE_MANAGER),
    ("project_manager", "Priya Project-Manager", Role.PROJECT_MANAGER),
    ("admin", "Ada Administrator", Role.ADMINISTRATOR),
]

# name, tier, lead, members
DEMO_TEAMS = [
    ("Service Desk", Tier.SERVICE_DESK, "agent", ["agent"]),
    ("Business Applications Support", Tier.APPLICATION_SUPPORT, "support2", ["support2"]),
    ("Digital Channels Support", Tier.APPLICATION_SUPPORT, "support2", ["support2"]),
    ("Payroll & HR Development", Tier.DEVELOPMENT, "developer", ["developer"]),
    ("Digital Channels Development", Tier.DEVELOPMENT, "developer", ["developer"]),
]

# name, description, 2nd line, 3rd line
DEMO_SERVICES = [
    (
        "Payroll",
        "Monthly and off-cycle payroll runs, payslips.",
        "Business Applications Support",
        "Payroll & HR Development",
    ),
    (
        "HR Portal",
        "Leave, absence and personal data self-service.",
        "Business Applications Support",
        "Payroll & HR Development",
    ),
    (
        "Customer Portal",
        "The public web portal where customers manage their accounts.",
        "Digital Channels Support",
        "Digital Channels Development",
    ),
    (
        "Mobile App",
        "The customer app for iOS and Android.",
        "Digital Channels Support",
        "Digital Channels Development",
    ),
    (
        "Email & Calendar",
        "Hosted mail and calendars (vendor-run: no in-house 3rd line).",
        "Business Applications Support",
        None,
    ),
]


def seed(stdout: TextIO) -> None:
    ensure_role_groups()
    users = {}
    for username, full_name, role in DEMO_USERS:
        first, _, last = full_name.partition(" ")
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@tandem.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            if role == Role.ADMINISTRATOR:
                user.is_staff = user.is_superuser = True
            user.save()
        user.groups.add(Group.objects.get(name=role.value))
        users[username] = user

    teams = {}
    for name, tier, lead, members in DEMO_TEAMS:
        team, _ = Team.objects.get_or_create(
            name=name, defaults={"tier": tier, "lead": users[lead]}
        )
        team.members.add(*(users[m] for m in members))
        teams[name] = team

    for name, description, support, development in DEMO_SERVICES:
        Service.objects.get_or_create(
            name=name,
            defaults={
                "description": description,
                "support_team": teams[support],
                "development_team": teams[development] if development else None,
            },
        )
    payroll = Service.objects.get(name="Payroll")
    held = {"service": payroll, "user": users["problem_manager"], "role": Role.PROBLEM_MANAGER}
    if not ServiceRole.objects.filter(**held).exists():  # through the service: audited
        service_role_assign(**held, actor=users["admin"])
    stdout.write(f"  {len(users)} users, {len(teams)} teams, {Service.objects.count()} services")
