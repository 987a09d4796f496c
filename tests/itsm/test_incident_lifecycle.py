"""The incident state machine: every allowed and every forbidden transition."""

from __future__ import annotations

import pytest

from core.exceptions import IllegalTransition
from itsm import services
from itsm.models import IncidentStatus
from tests.conftest import drive

STATES = [s.value for s in IncidentStatus]

# transition -> states it may fire from; every other state must refuse it with a 409.
ALLOWED = {
    "assign": {"new", "assigned"},
    "start": {"assigned"},
    "hold": {"in_progress"},
    "resume": {"on_hold"},
    "escalate": {"new", "assigned", "in_progress", "on_hold"},
    "resolve": {"assigned", "in_progress"},
    "reopen": {"resolved"},
    "close": {"resolved"},
    "cancel": {"new", "assigned"},
    "merge": {"new", "assigned", "in_progress", "on_hold"},
}
TARGET = {
    "assign": "assigned",
    "start": "in_progress",
    "hold": "on_hold",
    "resume": "in_progress",
    "escalate": "assigned",
    "resolve": "resolved",
    "reopen": "in_progress",
    "close": "closed",
    "cancel": "cancelled",
    "merge": "closed",
}


def _fire(name: str, incident, org):  # type: ignore[no-untyped-def]
    kwargs = {
        "assign": {"assignee": org.agent},
        "hold": {"reason": "awaiting_requester"},
        "escalate": {"reason": "needs 2nd line"},
        "resolve": {"resolution_code": "fixed", "resolution_notes": "Done."},
        "reopen": {"reason": "Still broken."},
    }.get(name, {})
    actor = org.incident_manager  # may fire everything: only the state decides
    if name == "merge":  # closes as a duplicate: it takes a master (its own service)
        from itsm.services.incident_links import incident_merge

        master = services.incident_create(actor=org.agent, service=org.service, title="Master")
        incident_merge(duplicate=incident, master=master, actor=actor)
        return type(incident).objects.get(pk=incident.pk)
    return services.TRANSITION_SERVICES[name](incident=incident, actor=actor, **kwargs)


CASES = [(name, state, state in allowed) for name, allowed in ALLOWED.items() for state in STATES]


def test_the_table_covers_every_transition_of_the_model() -> None:
    from itsm.models import Incident

    declared = {t.name for t in Incident._meta.get_field("status").get_all_transitions(Incident)}
    assert declared == set(ALLOWED)


@pytest.mark.parametrize(
    ("name", "state", "allowed"), CASES, ids=[f"{n}-from-{s}" for n, s, _ in CASES]
)
def test_transition_table(name: str, state: str, allowed: bool, org, new_incident) -> None:  # type: ignore[no-untyped-def]
    incident = drive(new_incident, org, state)
    assert incident.status == state
    if allowed:
        after = _fire(name, incident, org)
        assert after.status == TARGET[name]
        after.refresh_from_db()
        assert after.status == TARGET[name]
    else:
        with pytest.raises(IllegalTransition):
            _fire(name, incident, org)
        incident.refresh_from_db()
        assert incident.status == state
