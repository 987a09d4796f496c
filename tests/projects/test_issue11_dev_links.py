"""Issue 11: development links — commits, branches and pull requests by URL on a work
item, the key detected in their titles and branch names, from the page, the item's API
and a CI pipeline's call."""

from __future__ import annotations

import pytest
from django.test import Client

from core.exceptions import ActionForbidden, ValidationFailed
from core.models import Team, Tier
from core.roles import Role
from core.selectors import history_of
from projects import services as ps
from projects.models import DevLink, Project
from projects.services.dev_links import keys_in, link_kind
from tests.conftest import api_as
from tests.factories import UserFactory


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def item(org, project):  # type: ignore[no-untyped-def]
    return ps.work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")


@pytest.fixture
def other_item(org, project):  # type: ignore[no-untyped-def]
    return ps.work_item_create(
        actor=org.developer, kind="enhancement", project=project, title="Payslip PDF"
    )


@pytest.fixture
def foreign_item(org):  # type: ignore[no-untyped-def]
    """An item of a project the developer does not work on."""
    team = Team.objects.create(name="HR Dev", tier=Tier.DEVELOPMENT)
    hr = Project.objects.create(code="HR", name="HR", team=team)
    return ps.work_item_create(actor=org.admin, kind="defect", project=hr, title="Leave")


@pytest.mark.parametrize(
    ("url", "kind", "branch"),
    [
        ("https://github.com/acme/pay/pull/12", "pull_request", ""),
        ("https://github.com/acme/pay/pull/12/files", "pull_request", ""),
        ("https://gitlab.com/acme/sub/pay/-/merge_requests/3", "pull_request", ""),
        ("https://bitbucket.org/acme/pay/pull-requests/5", "pull_request", ""),
        ("https://github.com/acme/pay/commit/0a1b2c3d4e5f", "commit", ""),
        ("https://gitlab.example.org/acme/pay/-/commit/0a1b2c3d", "commit", ""),
        ("https://bitbucket.org/acme/pay/commits/0a1b2c3d", "commit", ""),
        ("https://github.com/acme/pay/tree/feature/DEF-7-tax", "branch", "feature/DEF-7-tax"),
        ("https://gitlab.com/acme/pay/-/tree/def-7_fix", "branch", "def-7_fix"),
        ("https://bitbucket.org/acme/pay/branch/enh-3", "branch", "enh-3"),
        ("https://wiki.example.org/pay/design", "link", ""),
    ],
)
def test_link_kind_from_the_url_shape(url, kind, branch) -> None:  # type: ignore[no-untyped-def]
    assert link_kind(url) == (kind, branch)


def test_keys_in_titles_any_case_several_and_standing_alone() -> None:
    assert keys_in("DEF-1011: fix tax (also enh-5, def-1011)") == ["DEF-1011", "ENH-5"]
    assert keys_in("xDEF-1 DEF-10111 DEF-2a", "feature/def-3_fix") == [
        "DEF-10111",
        "DEF-3",
    ]


def test_dev_link_add_is_audited_and_idempotent(org, item) -> None:  # type: ignore[no-untyped-def]
    url = "https://github.com/acme/pay/pull/12"
    link = ps.dev_link_add(item=item, url=url, title="Fix tax", actor=org.developer)
    assert (link.kind, link.title, link.added_by) == ("pull_request", "Fix tax", org.developer)
    again = ps.dev_link_add(
        item=item, url=url, title="Fix tax code", actor=org.developer, state="Merged"
    )
    assert again.pk == link.pk and DevLink.objects.count() == 1
    assert (again.title, again.state) == ("Fix tax code", "merged")
    ps.dev_link_add(item=item, url=url, title="Fix tax code", actor=org.developer)
    actions = list(history_of(item).values_list("action", flat=True))
    assert actions.count("dev_link_added") == 1 and actions.count("dev_link_updated") == 1


@pytest.mark.parametrize(
    "url", ["", "ftp://github.com/a/b/pull/1", "javascript:alert(1)", "github.com/a/b", "x" * 600]
)
def test_bad_urls_are_400(org, item, url) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as exc:
        ps.dev_link_add(item=item, url=url, title="", actor=org.developer)
    assert "url" in exc.value.errors


def test_only_who_works_on_the_item_links(org, item) -> None:  # type: ignore[no-untyped-def]
    outsider = UserFactory(username="outsider", roles=[Role.DEVELOPER])
    with pytest.raises(ActionForbidden):
        ps.dev_link_add(item=item, url="https://github.com/a/b/pull/1", title="", actor=outsider)
    link = ps.dev_link_add(
        item=item, url="https://github.com/a/b/pull/1", title="", actor=org.developer
    )
    with pytest.raises(ActionForbidden):
        ps.dev_link_remove(link=link, actor=outsider)
    ps.dev_link_remove(link=link, actor=org.developer)
    assert not DevLink.objects.exists()
    assert history_of(item).filter(action="dev_link_removed").exists()


def test_from_title_links_every_named_item_and_reports_the_rest(
    org, item, other_item, foreign_item
) -> None:  # type: ignore[no-untyped-def]
    title = f"{item.key} and {other_item.key.lower()}: tax, see {foreign_item.key} and DEF-999999"
    result = ps.dev_links_from_title(
        url="https://github.com/acme/pay/pull/40", title=title, actor=org.developer
    )
    assert sorted(w.key for w in result.items) == sorted([item.key, other_item.key])
    assert result.unknown_keys == ["DEF-999999"]
    assert result.refused_keys == [foreign_item.key]
    assert not foreign_item.dev_links.exists()
    # the branch name counts too
    result = ps.dev_links_from_title(
        url=f"https://github.com/acme/pay/tree/feature/{item.key.lower()}-tax",
        title="",
        actor=org.developer,
    )
    assert [w.key for w in result.items] == [item.key]
    assert item.dev_links.get(kind="branch")


# --- API ----------------------------------------------------------------------------


def test_api_item_dev_links(org, item, other_item) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.developer)
    base = f"/api/v1/defects/{item.key}/dev-links/"
    r = api.post(
        base,
        {"url": "https://gitlab.com/acme/pay/-/merge_requests/3", "title": f"{other_item.key} too"},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["link"]["kind"] == "pull_request" and body["link"]["item"] == item.key
    assert body["also_linked"] == [other_item.key]
    rows = api.get(base).json()
    assert [row["url"] for row in rows] == ["https://gitlab.com/acme/pay/-/merge_requests/3"]
    assert api.get(f"/api/v1/enhancements/{other_item.key}/dev-links/").json()[0]["item"] == (
        other_item.key
    )
    r = api.post(base, {"url": "not a url"}, format="json")
    assert r.status_code == 400 and "url" in r.json()["fields"]
    outsider = UserFactory(username="outsider", roles=[Role.DEVELOPER])
    r = api_as(outsider).post(base, {"url": "https://github.com/a/b/pull/2"}, format="json")
    assert r.status_code == 403
    link_id = rows[0]["id"]
    assert api_as(outsider).delete(f"{base}{link_id}/").status_code == 403
    assert api.delete(f"{base}{link_id}/").status_code == 204
    assert api.delete(f"{base}{link_id}/").status_code == 404
    # requesters do not see work items
    assert api_as(org.requester).get(base).status_code == 404


def test_api_pipeline_call(org, item, foreign_item) -> None:  # type: ignore[no-untyped-def]
    api = api_as(org.developer)
    r = api.post(
        "/api/v1/dev-links/",
        {
            "url": "https://github.com/acme/pay/pull/77",
            "title": f"{item.key} {foreign_item.key} ENH-424242",
            "state": "open",
        },
        format="json",
    )
    assert r.status_code == 201
    body = r.json()
    assert [row["item"] for row in body["linked"]] == [item.key]
    assert body["linked"][0]["state"] == "open"
    assert body["unknown_keys"] == ["ENH-424242"] and body["refused_keys"] == [foreign_item.key]
    r = api.post(
        "/api/v1/dev-links/", {"url": "https://github.com/acme/pay/pull/78", "title": "chore"}
    )
    assert r.status_code == 200 and r.json()["linked"] == []
    r = api.post("/api/v1/dev-links/", {"url": "ssh://git@github.com/x", "title": item.key})
    assert r.status_code == 400


# --- page ---------------------------------------------------------------------------


def test_development_panel_and_form(org, item, other_item, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.developer)
    r = c.post(
        f"/work/{item.key}/dev-links/",
        {"url": "https://github.com/acme/pay/pull/12", "title": f"Tax fix, {other_item.key}"},
        follow=True,
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert f"also linked to {other_item.key}" in html
    assert 'id="dev-links"' in html and "Tax fix" in html and "Pull request" in html
    assert 'id="dev-link-form"' in html
    for n in range(5):
        ps.dev_link_add(
            item=item,
            url=f"https://github.com/acme/pay/commit/abcdef{n}",
            title="c",
            actor=org.developer,
        )
    c.get(f"/work/{item.key}/")  # warm caches (content types, roles)
    with django_assert_max_num_queries(60) as ctx:
        c.get(f"/work/{item.key}/")
    queries = len(ctx.captured_queries)
    for n in range(5, 15):
        ps.dev_link_add(
            item=item,
            url=f"https://github.com/acme/pay/commit/abcdef{n}",
            title="c",
            actor=org.developer,
        )
    with django_assert_max_num_queries(queries):  # more links, no more queries
        c.get(f"/work/{item.key}/")


def test_development_form_only_for_who_may_link(org, item) -> None:  # type: ignore[no-untyped-def]
    outsider = UserFactory(username="outsider", roles=[Role.DEVELOPER])
    c = client_for(outsider)
    html = c.get(f"/work/{item.key}/").content.decode()
    assert 'id="dev-links"' in html and 'id="dev-link-form"' not in html
    r = c.post(f"/work/{item.key}/dev-links/", {"url": "https://github.com/a/b/pull/1"})
    assert r.status_code == 403
    r = client_for(org.developer).post(f"/work/{item.key}/dev-links/", {"url": "nope"})
    assert r.status_code == 400 and not DevLink.objects.exists()


def test_remove_from_the_page(org, item) -> None:  # type: ignore[no-untyped-def]
    link = ps.dev_link_add(
        item=item, url="https://github.com/a/b/pull/1", title="", actor=org.developer
    )
    r = client_for(org.developer).post(f"/work/{item.key}/dev-links/{link.pk}/remove/")
    assert r.status_code == 302 and not DevLink.objects.exists()
