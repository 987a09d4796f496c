"""Issue 11: the work item page's comment box (Markdown, @mentions, preview) and the
staff helpers it uses (people suggestions, Markdown preview)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.models import Comment, OutboxMessage
from core.roles import Role
from core.watchers import watch_add
from projects.services import work_comment, work_item_create
from tests.factories import UserFactory


@pytest.fixture
def item(org, project):  # type: ignore[no-untyped-def]
    return work_item_create(actor=org.developer, kind="defect", project=project, title="Tax")


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_the_box_shows_only_to_who_may_write_on_the_item(org, item) -> None:  # type: ignore[no-untyped-def]
    html = client_for(org.developer).get(item.get_absolute_url()).content.decode()
    assert 'id="comment-box"' in html and f'action="/work/{item.key}/comments/"' in html
    assert "Preview" in html and "Markdown" in html and "data-suggest-url" in html
    html = client_for(org.agent).get(item.get_absolute_url()).content.decode()
    assert 'id="comment-box"' not in html  # staff outside the project read, not write


def test_posting_a_note_renders_it_as_markdown_and_tells_the_mentioned(org, item) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.developer)
    res = c.post(
        f"/work/{item.key}/comments/",
        {"body": "**Root cause** found, @support2 see https://ci.example/1", "next": "/x"},
    )
    assert res.status_code == 302
    comment = Comment.objects.get()
    assert not comment.public and comment.author == org.developer
    html = c.get(item.get_absolute_url()).content.decode()
    assert "<strong>Root cause</strong>" in html
    assert '<span class="mention">@support2</span>' in html
    assert '<a href="https://ci.example/1" rel="noopener noreferrer">' in html
    assert [m.recipients for m in OutboxMessage.objects.filter(event="work_item.mentioned")] == [
        [org.support2.email]
    ]


def test_an_empty_note_is_a_400_that_keeps_the_form(org, item) -> None:  # type: ignore[no-untyped-def]
    res = client_for(org.developer).post(f"/work/{item.key}/comments/", {"body": "   "})
    assert res.status_code == 400
    html = res.content.decode()
    assert 'id="comment-error"' in html and "The comment is empty." in html
    assert 'id="comment-box"' in html and item.title in html
    assert not Comment.objects.exists()


def test_who_may_not_write_is_refused(org, item) -> None:  # type: ignore[no-untyped-def]
    res = client_for(org.agent).post(f"/work/{item.key}/comments/", {"body": "hi"})
    assert res.status_code == 403
    res = client_for(org.requester).post(f"/work/{item.key}/comments/", {"body": "hi"})
    assert res.status_code == 404
    assert not Comment.objects.exists()


def test_people_suggest_is_staff_only_and_short(org) -> None:  # type: ignore[no-untyped-def]
    for n in range(12):
        UserFactory(username=f"danaq{n:02d}", first_name="Danaq")
    # "danaq" matches only these twelve (the org's users have random first names: "@dan"
    # also matched a Daniel now and then)
    res = client_for(org.developer).get("/people/suggest", {"q": "@danaq"})
    assert res.status_code == 200
    rows = res.json()
    assert len(rows) == 10 and rows[0] == {"username": "danaq00", "name": rows[0]["name"]}
    by_name = client_for(org.developer).get("/people/suggest", {"q": "Dev"}).json()
    assert "developer" in [r["username"] for r in by_name]
    assert client_for(org.requester).get("/people/suggest", {"q": "a"}).status_code == 403


def test_preview_renders_like_the_page_for_staff_only(org) -> None:  # type: ignore[no-untyped-def]
    res = client_for(org.developer).post("/markdown/preview", {"body": "_x_ @ana <script>"})
    assert res.status_code == 200
    html = res.content.decode()
    assert "<em>x</em>" in html and '<span class="mention">@ana</span>' in html
    assert "<script" not in html
    assert client_for(org.requester).post("/markdown/preview", {"body": "x"}).status_code == 403


def test_the_page_costs_the_same_with_more_watchers_and_notes(org, item) -> None:  # type: ignore[no-untyped-def]
    c = client_for(org.developer)
    work_comment(item=item, actor=org.developer, body="first")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(item.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    c.get(item.get_absolute_url())  # warm caches (content types, sessions)
    before = count()
    for n in range(5):
        u = UserFactory(username=f"w{n}", roles=[Role.DEVELOPER])
        watch_add(record=item, user=u, actor=u)
        work_comment(item=item, actor=org.developer, body=f"note {n} @w{n}")
    assert count() == before


def test_the_panel_adds_few_queries(org, item, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get(item.get_absolute_url())
    request.user = org.developer
    template = Template(
        "{% load watchers comments %}{% watchers_panel item %}{% comment_box item %}"
    )
    for n in range(5):
        u = UserFactory(username=f"v{n}", roles=[Role.DEVELOPER])
        watch_add(record=item, user=u, actor=u)
    with django_assert_max_num_queries(8):
        html = template.render(Context({"request": request, "item": item}))
    assert html.count("@v") == 5 and 'id="comment-box"' in html
