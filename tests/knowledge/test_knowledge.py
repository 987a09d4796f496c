"""Knowledge base: safe rendering, search and audience, versions, staying current."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from core.exceptions import ActionForbidden
from core.models import OutboxMessage
from knowledge import services as ks
from knowledge.models import Article, ArticleUse
from knowledge.render import render_markdown
from tests.conftest import api_as

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<body onload=alert(1)>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<p onclick="alert(1)">hi</p>',
    "![x](javascript:alert(1))",
    "<details open ontoggle=alert(1)>",
    '<object data="javascript:alert(1)">',
    "<input autofocus onfocus=alert(1)>",
]


@pytest.mark.parametrize("payload", XSS)
def test_no_script_or_handler_survives_rendering(payload: str) -> None:
    html = render_markdown(f"Text\n\n{payload}\n\nmore").lower()
    for bad in (
        "<script",
        "javascript:",
        "onerror",
        "onload",
        "onclick",
        "ontoggle",
        "onfocus",
        "<iframe",
        "<svg",
        "<object",
        "style=",
        "data:text",
    ):
        assert bad not in html, (payload, html)


def test_markdown_still_renders(org) -> None:  # type: ignore[no-untyped-def]
    html = render_markdown("# Title\n\n* one\n* two\n\n`code` [link](https://x.example)")
    assert "<h1>Title</h1>" in html and "<li>one</li>" in html
    assert 'href="https://x.example"' in html and "noopener" in html


def write(org, title, body, audience="internal", publish=True, services=None):  # type: ignore[no-untyped-def]
    a = ks.article_create(
        actor=org.agent,
        title=title,
        body=body,
        audience=audience,
        services=[org.service] if services is None else services,
    )
    if publish:
        a = ks.article_transition(article=a, actor=org.support2, name="publish")
    return a


def test_search_ranks_title_first_and_filters_audience(org) -> None:  # type: ignore[no-untyped-def]
    vpn = write(
        org, "Reset your VPN token", "When the VPN rejects you, reset the token.", audience="public"
    )
    body_only = write(
        org, "Remote working", "Laptops, printers and the VPN at home.", audience="public"
    )
    internal = write(
        org, "VPN gateway restart", "Restart the VPN gateway cluster.", audience="internal"
    )
    write(org, "VPN draft", "VPN notes", audience="public", publish=False)
    requester = api_as(org.requester).get("/api/v1/articles/?q=vpn token").json()["results"]
    assert requester[0]["key"] == vpn.key
    assert internal.key not in {r["key"] for r in requester}
    assert "<mark>" in requester[0]["snippet"].lower()
    everyone = api_as(org.requester).get("/api/v1/articles/?q=vpn").json()["results"]
    keys = [r["key"] for r in everyone]
    assert set(keys) == {vpn.key, body_only.key}  # public and published only
    staff = {r["key"] for r in api_as(org.agent).get("/api/v1/articles/?q=vpn").json()["results"]}
    assert internal.key in staff
    assert api_as(org.requester).get(f"/api/v1/articles/{internal.key}/").status_code == 404


def test_every_edit_keeps_a_version_and_history_diffs(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Printer setup", "Step one.")
    ks.article_update(article=a, actor=org.support2, body="Step one.\nStep two.", note="two")
    ks.article_update(article=a, actor=org.agent, title="Printer set-up")
    a.refresh_from_db()
    assert a.version == 3
    versions = api_as(org.agent).get(f"/api/v1/articles/{a.key}/versions/").json()
    assert [v["number"] for v in versions] == [3, 2, 1] and versions[1]["note"] == "two"
    c = Client()
    c.force_login(org.agent)
    page = c.get(f"/kb/{a.key}/history/?a=1&b=2").content.decode()
    assert "Step&nbsp;two." in page and "diff_add" in page
    assert c.get(f"/kb/{a.key}/history/?a=1&b=9").status_code == 404


def test_who_writes_and_publishes(org) -> None:  # type: ignore[no-untyped-def]
    a = ks.article_create(actor=org.agent, title="t", body="b")
    a = ks.article_transition(article=a, actor=org.agent, name="publish")  # the author may
    assert a.status == "published"
    with pytest.raises(ActionForbidden):
        ks.article_create(actor=org.requester, title="t", body="b")
    with pytest.raises(ActionForbidden):
        ks.article_transition(article=a, actor=org.requester, name="retire")


def test_go_live_flags_articles_of_its_services(org) -> None:  # type: ignore[no-untyped-def]
    from core import events

    a = write(org, "Payslip FAQ", "How to read your payslip.")
    other = write(org, "Other", "x", services=[])
    from projects.models import Project, Release

    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    release = Release.objects.create(project=project, version="2.3")
    events.publish(events.RELEASE_LIVE, release=release, actor=org.change_manager)
    a.refresh_from_db()
    other.refresh_from_db()
    assert a.needs_review and "PAY 2.3" in a.needs_review_reason and not other.needs_review
    assert OutboxMessage.objects.filter(
        event="article.needs_review", recipients=[org.agent.email]
    ).exists()
    ks.article_update(article=a, actor=org.agent, body="How to read your new payslip.")
    a.refresh_from_db()
    assert not a.needs_review


def test_review_by_date_flags(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Old", "old")
    Article.objects.filter(pk=a.pk).update(review_by=date.today() - timedelta(days=1))
    assert ks.articles_flag_overdue() == 1
    assert ks.articles_flag_overdue() == 0
    c = Client()
    c.force_login(org.agent)
    assert a.key.encode() in c.get("/kb/review/").content


def test_known_error_article_follows_the_workaround(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm
    from itsm.services import problems as prs

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = prs.problem_create(
        actor=org.problem_manager, title="Export fails", service=org.service, incidents=[inc]
    )
    prs.problem_publish_workaround(
        problem=problem, actor=org.problem_manager, workaround="Split the export"
    )
    article = Article.objects.get(problem=problem)
    assert article.status == "published" and "Split the export" in article.body
    prs.problem_update(problem=problem, actor=org.problem_manager, workaround="Use the CSV")
    article.refresh_from_db()
    assert "Use the CSV" in article.body and article.version == 2


def test_suggestions_while_typing_and_deflection(org) -> None:  # type: ignore[no-untyped-def]
    a = write(
        org,
        "Payslip shows the wrong tax code",
        "Check your tax code in HR Portal.",
        audience="public",
    )
    c = Client()
    c.force_login(org.requester)
    frag = c.get("/kb/suggest/?title=wrong tax code", HTTP_HX_REQUEST="true").content.decode()
    assert a.title in frag and "This solved it" in frag
    res = c.post(f"/kb/{a.key}/solved/", {"q": "wrong tax code"})
    assert res.status_code == 200
    assert ArticleUse.objects.get().kind == "deflected"
    a.refresh_from_db()
    assert a.used_count == 1
    from itsm import services as itsm

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Wrong tax code")
    agent = Client()
    agent.force_login(org.agent)
    assert a.key in agent.get(inc.get_absolute_url()).content.decode()
    agent.post(f"/kb/{a.key}/solved/", {"incident": inc.key})
    assert ArticleUse.objects.filter(kind="linked", incident=inc).exists()


def test_pages_render_for_each_role(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Public how-to", "**Bold** text", audience="public")
    for user in (org.requester, org.agent, org.developer):
        c = Client()
        c.force_login(user)
        assert c.get("/kb/?q=how").status_code == 200
        assert c.get(a.get_absolute_url()).status_code == 200
    staff = Client()
    staff.force_login(org.agent)
    assert staff.get("/kb/new/").status_code == 200
    res = staff.post("/kb/new/", {"title": "", "body": "x", "audience": "internal"})
    assert res.status_code == 400
    res = staff.post(
        "/kb/new/",
        {
            "title": "New",
            "body": "# Hi",
            "audience": "internal",
            "tags": "printers, how-to",
            "services": [org.service.pk],
        },
    )
    new = Article.objects.get(title="New")
    assert res["Location"] == new.get_absolute_url()
    assert {t.name for t in new.tags.all()} == {"printers", "how-to"}
    preview = staff.post("/kb/preview/", {"body": "<script>x</script>**b**"}).content
    assert preview.strip() == b"<p><strong>b</strong></p>"
    requester = Client()
    requester.force_login(org.requester)
    assert requester.get("/kb/new/").status_code == 403
    assert requester.get(f"/kb/{new.key}/").status_code == 404


def test_snippets_read_as_text_and_stay_escaped(org) -> None:  # type: ignore[no-untyped-def]
    from knowledge.search import search, snippet_of

    write(org, "Tokens", "Reset the **VPN** token <b>now</b> `quickly`.", audience="public")
    [hit] = list(search(Article.objects.all(), "vpn token"))
    snippet = snippet_of(hit, "vpn token")
    assert "**" not in snippet and "`" not in snippet
    assert "<b>" not in snippet and "<mark>" in snippet  # the author's HTML never renders
