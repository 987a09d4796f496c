import pytest

from itsm import services
from itsm.models import priority_for

MATRIX = [
    ("high", "high", 1),
    ("high", "medium", 2),
    ("high", "low", 3),
    ("medium", "high", 2),
    ("medium", "medium", 3),
    ("medium", "low", 4),
    ("low", "high", 3),
    ("low", "medium", 4),
    ("low", "low", 5),
]


@pytest.mark.parametrize(("impact", "urgency", "priority"), MATRIX)
def test_default_itil_matrix(impact: str, urgency: str, priority: int) -> None:
    assert priority_for(impact, urgency) == priority


def test_matrix_is_configuration(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INCIDENT_PRIORITY_MATRIX = {**settings.INCIDENT_PRIORITY_MATRIX, "low/low": 4}
    assert priority_for("low", "low") == 4


def test_priority_follows_impact_and_urgency_on_edit(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    assert new_incident.priority == 2
    updated = services.incident_update(incident=new_incident, actor=org.agent, urgency="high")
    assert updated.priority == 1
    updated.refresh_from_db()
    assert updated.priority == 1
