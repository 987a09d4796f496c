"""Issue 11 review fix: whoever may not add or remove other watchers gets the same 403
for a username (or user id) that exists and one that does not — the page answered 400
"Nobody is called x" for unknown names, so a requester could probe for usernames."""

from __future__ import annotations

from django.test import Client

from tests.conftest import api_as


def test_the_page_answers_a_requester_the_same_for_known_and_unknown_names(
    org, new_incident
) -> None:  # type: ignore[no-untyped-def]
    # (since issue 12 the requester adds colleagues as participants on their own
    # incident: a participant, who may not, is the one who must not learn names)
    participant = _participant(org, new_incident)
    c = Client()
    c.force_login(participant)
    url = f"/watchers/itsm.incident/{new_incident.pk}/"
    known = c.post(url, {"username": "agent"})
    unknown = c.post(url, {"username": "no_such_person"})
    assert known.status_code == unknown.status_code == 403
    assert "no_such_person" not in unknown.content.decode()
    assert c.post(url + "remove/", {"username": "no_such_person"}).status_code == 403
    # naming themselves is watching: no permission to manage others needed
    assert c.post(url, {"username": participant.username.title()}).status_code == 302


def _participant(org, incident):  # type: ignore[no-untyped-def]
    from core.watchers import watch_add

    watch_add(record=incident, user=org.requester2, actor=org.requester)
    return org.requester2


def test_the_api_answers_a_requester_the_same_for_known_and_unknown_ids(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    participant = _participant(org, new_incident)
    api = api_as(participant)
    url = f"/api/v1/incidents/{new_incident.key}/watchers/"
    assert api.post(url, {"user": org.agent.pk}, format="json").status_code == 403
    assert api.post(url, {"user": 987654}, format="json").status_code == 403
    assert api.delete(f"{url}{org.agent.pk}/").status_code == 403
    assert api.delete(f"{url}987654/").status_code == 403
    assert api.delete(f"{url}{participant.pk}/").status_code in (200, 204)
    assert api.post(url, {"user": participant.pk}, format="json").status_code == 404


def test_staff_who_work_it_still_hear_of_unknown_names(org, new_incident) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.agent)  # the desk that works it
    res = c.post(f"/watchers/itsm.incident/{new_incident.pk}/", {"username": "no_such_person"})
    assert res.status_code == 400 and "Nobody is called" in res.content.decode()
