import pytest

from projects.models import Project, Release


@pytest.fixture
def project(org):  # type: ignore[no-untyped-def]
    p = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    p.services.add(org.service)
    return p


@pytest.fixture
def release(project, org):  # type: ignore[no-untyped-def]
    return Release.objects.create(project=project, version="2.3")
