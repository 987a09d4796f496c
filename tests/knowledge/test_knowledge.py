"""Knowledge base: safe rendering, search and audience, versions, staying current."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.exceptions import ActionForbidden
from core.models import OutboxMessage
from knowledge import services as ks
from knowledge.models import Article, ArticleUse
from knowledge.render import render_markdown
from tests.conftest import api_as
from tests.html_checks import executable_markup

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
    html = render_markdown(f"Text\n\n{payload}\n\nmore")
    # what a browser would run or load, not text that merely spells it out
    assert executable_markup(html) == [], (payload, html)


def test_the_checker_sees_what_runs() -> None:
    """executable_markup itself: it flags markup that runs and passes escaped text."""
    assert executable_markup('<a href="javascript:alert(1)">x</a>')
    assert executable_markup('<a href=" JaVaScRiPt:alert(1)">x</a>')
    assert executable_markup("<img src=x onerror=alert(1)>")
    assert executable_markup('<p style="x">a</p>') and executable_markup("<svg></svg>")
    assert executable_markup('<img src="data:text/html,x">')
    assert executable_markup("<p>[click](javascript:alert(1)) &lt;script&gt;</p>") == []
    assert executable_markup('<a href="https://x.example/a:b">x</a>') == []


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
    assert versions[0]["details"]["services"] == ["Payroll"]
    crlf = ks.article_update(article=a, actor=org.agent, body="Line one.\r\nLine two.")
    assert crlf.body == "Line one.\nLine two."  # as browsers send it, stored one way
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

    # The wider rule (issue 11 #4: the default flags only what the release touches).
    project = Project.objects.create(
        code="PAY", name="Payroll", team=org.dev, review_scope="all_services"
    )
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
    # (a line that starts with <script> is an HTML block in CommonMark, as on GitHub)
    preview = staff.post("/kb/preview/", {"body": "<script>x</script>\n\n**b**"}).content
    assert preview.strip() == b"<p><strong>b</strong></p>"
    requester = Client()
    requester.force_login(org.requester)
    assert requester.get("/kb/new/").status_code == 403
    assert requester.get(f"/kb/{new.key}/").status_code == 404


def test_snippets_read_as_text_and_stay_escaped(org) -> None:  # type: ignore[no-untyped-def]
    from knowledge.search import search, snippet_of

    write(
        org,
        "Tokens",
        "Reset the **VPN** token <b>now</b> `quickly` <a href=\"x\" title='y'>here</a>, "
        "it's # easy.",
        audience="public",
    )
    [hit] = list(search(Article.objects.all(), "vpn token"))
    snippet = snippet_of(hit, "vpn token")
    assert "**" not in snippet and "`" not in snippet
    assert "<b>" not in snippet and "<mark>" in snippet  # the author's HTML never renders
    assert "&lt;" not in snippet and "now" in snippet and "here" in snippet  # nor shows as markup
    assert "it&#x27;s" in snippet  # an apostrophe stays one


# --- suggestions while typing -------------------------------------------------------------
def test_suggestions_match_any_typed_word_best_first(org) -> None:  # type: ignore[no-untyped-def]
    from knowledge.views import suggestions

    tax = write(org, "Payslip shows the wrong tax code", "Check your tax code.", audience="public")
    write(org, "Payslip arrives late", "Payslips are sent on the 25th.", audience="public")
    internal = write(org, "Tax code batch internals", "Restart the tax batch.")
    rows = suggestions(org.requester, "tax code incorrect on my payslip")
    assert rows[0] == tax  # most typed words, and in the title
    assert internal not in rows  # requesters only ever see public articles
    assert suggestions(org.requester, "the and but") == []  # only stop words: no error
    assert suggestions(org.requester, "zz") == []


def test_suggestion_buttons_submit_the_incident_form_not_a_nested_one(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Reset your HR Portal password", "Use Forgot password.", audience="public")
    c = Client()
    c.force_login(org.requester)
    frag = c.get("/kb/suggest/?title=portal password", HTTP_HX_REQUEST="true").content.decode()
    assert "<form" not in frag and f'formaction="/kb/{a.key}/solved/"' in frag
    # what the browser sends: the incident form's fields, to the button's formaction
    res = c.post(f"/kb/{a.key}/solved/", {"title": "portal password loop", "description": ""})
    assert res.status_code == 200 and b"No incident was raised" in res.content
    use = ArticleUse.objects.get()
    assert (use.kind, use.query, use.incident) == ("deflected", "portal password loop", None)


def test_a_use_counts_once(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm

    a = write(org, "Printer jam", "Open tray 2.", audience="public")
    ks.article_used(article=a, actor=org.requester)
    ks.article_used(article=a, actor=org.requester)  # a double click
    ks.article_used(article=a, actor=org.requester2)
    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Printer jams")
    ks.article_used(article=a, actor=org.agent, incident=inc)
    ks.article_used(article=a, actor=org.incident_manager, incident=inc)  # works it too
    a.refresh_from_db()
    assert a.used_count == 3 and ArticleUse.objects.count() == 3
    res = api_as(org.requester).post(f"/api/v1/articles/{a.key}/solved/", {}, format="json")
    assert res.status_code == 201 and res.json() == {"kind": "deflected", "used_count": 3}
    res = api_as(org.agent).post(
        f"/api/v1/articles/{a.key}/solved/", {"incident": "INC-999999"}, format="json"
    )
    assert res.status_code == 404


# --- versions -----------------------------------------------------------------------------
def test_an_edit_of_what_it_is_filed_under_keeps_a_version_too(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "VPN", "Body.")
    a = ks.article_update(article=a, actor=org.agent, audience="public", tags=["vpn"])
    assert a.version == 2
    v2 = a.versions.get(number=2)
    assert v2.details["audience"] == "public" and v2.details["tags"] == ["vpn"]
    same = ks.article_update(article=a, actor=org.agent, audience="public", tags=["vpn"])
    assert same.version == 2 and a.versions.count() == 2  # nothing changed, nothing written
    c = Client()
    c.force_login(org.agent)
    page = c.get(f"/kb/{a.key}/history/?a=1&b=2").content.decode()
    assert "Audience:" in page and "Tags:" in page and "diff_chg" in page
    assert a.versions.get(number=1).as_lines()[1:3] == ["Audience: internal", "Services: Payroll"]
    from core.selectors import history_of

    updated = history_of(a).filter(action="updated").get()
    assert updated.changes["audience"] == ["internal", "public"]
    assert updated.changes["tags"] == ["", "vpn"]


def test_bad_edits_are_refused_and_write_nothing(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "VPN", "Body.")
    agent = api_as(org.agent)
    for body in ({"title": " "}, {"audience": "everyone"}, {"review_by": "soon"}, {"status": "x"}):
        res = agent.patch(f"/api/v1/articles/{a.key}/", body, format="json")
        assert res.status_code == 400, (body, res.content)
    a.refresh_from_db()
    assert (a.title, a.version, a.versions.count()) == ("VPN", 1, 1)
    retired = ks.article_transition(article=a, actor=org.agent, name="retire")
    res = agent.patch(f"/api/v1/articles/{retired.key}/", {"body": "new"}, format="json")
    assert res.status_code == 409
    assert (
        api_as(org.requester).post("/api/v1/articles/", {"title": "t", "body": "b"}).status_code
        == 403
    )


# --- staying current ----------------------------------------------------------------------
def _go_live(org, version="2.3"):  # type: ignore[no-untyped-def]
    from core import events
    from projects.models import Project, Release

    project, _ = Project.objects.get_or_create(
        code="PAY", name="Payroll", team=org.dev, defaults={"review_scope": "all_services"}
    )
    project.services.add(org.service)
    release = Release.objects.create(project=project, version=version)
    Release.objects.filter(pk=release.pk).update(status="live", went_live_at=timezone.now())
    release.refresh_from_db()
    events.publish(events.RELEASE_LIVE, release=release, actor=org.change_manager)
    return release


def test_still_holds_clears_the_flag_and_sets_the_next_review(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Payslip FAQ", "How to read your payslip.")
    release = _go_live(org)
    a.refresh_from_db()
    assert a.review_release == release
    agent = api_as(org.agent)
    past = {"review_by": str(date.today())}
    assert agent.post(f"/api/v1/articles/{a.key}/reviewed/", past, format="json").status_code == 400
    a.refresh_from_db()
    assert a.needs_review  # refused, nothing written
    nxt = str(date.today() + timedelta(days=90))
    res = agent.post(f"/api/v1/articles/{a.key}/reviewed/", {"review_by": nxt}, format="json")
    assert res.status_code == 200
    assert res.json()["needs_review"] is False and res.json()["review_by"] == nxt
    a.refresh_from_db()
    assert a.review_release is None and a.version == 1  # a review is not an edit
    ks.article_flag(article=a, reason="Again.")
    res = api_as(org.requester).post(f"/api/v1/articles/{a.key}/reviewed/", {}, format="json")
    assert res.status_code == 404  # a requester does not even see this internal article
    a.refresh_from_db()
    assert a.needs_review


def test_review_page_groups_by_owner_or_service_and_still_holds(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "Payslip FAQ", "How to read your payslip.")
    b = ks.article_create(actor=org.support2, title="No service", body="x")
    ks.article_transition(article=b, actor=org.support2, name="publish")
    ks.article_flag(article=b, reason="Check it.")
    release = _go_live(org, "3.0")
    c = Client()
    c.force_login(org.agent)
    by_owner = c.get("/kb/review/").content.decode()
    for owner in (org.agent, org.support2):
        assert f'data-group="{owner.get_full_name() or owner.username}"' in by_owner
    assert f'href="{release.get_absolute_url()}"' in by_owner
    by_service = c.get("/kb/review/?by=service").content.decode()
    assert 'data-group="Payroll"' in by_service and 'data-group="No service"' in by_service
    mine = c.get("/kb/review/?owner=me").content.decode()
    assert a.key in mine and b.key not in mine
    res = c.post(f"/kb/{a.key}/reviewed/", {"next": "/kb/review/?by=service"})
    assert res["Location"] == "/kb/review/?by=service"
    res = c.post(f"/kb/{b.key}/reviewed/", {"next": "https://evil.example/"})
    assert res["Location"] == b.get_absolute_url()
    a.refresh_from_db()
    b.refresh_from_db()
    assert not a.needs_review and not b.needs_review


def test_release_notes_are_browsable_from_the_knowledge_base(org) -> None:  # type: ignore[no-untyped-def]
    from projects.models import WorkItem

    a = write(org, "Payslip FAQ", "How to read your payslip.")
    release = _go_live(org, "4.1")
    WorkItem.objects.create(
        project=release.project,
        kind="enhancement",
        number=1,
        title="Payslip shows overtime per week",
        target_release=release,
        fixed_in_release=release,  # notes list what is done (issue 10 #8)
        status="released",
        reported_by=org.developer,
    )
    c = Client()
    c.force_login(org.agent)
    page = c.get("/kb/releases/").content.decode()
    assert "PAY 4.1" in page and "Payslip shows overtime per week" in page and a.key in page
    assert "PAY 4.1" in c.get("/kb/releases/?q=overtime").content.decode()
    assert "PAY 4.1" not in c.get("/kb/releases/?q=nothing-like-it").content.decode()
    assert "PAY 4.1" in c.get(f"/kb/releases/?release={release.pk}").content.decode()
    assert "PAY 4.1" not in c.get(f"/kb/releases/?release={release.pk + 1}").content.decode()
    assert "Release notes" in c.get("/kb/").content.decode()
    requester = Client()
    requester.force_login(org.requester)
    assert requester.get("/kb/releases/").status_code == 404


def test_a_resolved_problem_marks_its_known_error_fixed(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm
    from itsm.services import problems as prs

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = prs.problem_create(
        actor=org.problem_manager, title="Export fails", service=org.service, incidents=[inc]
    )
    prs.problem_investigate(problem=problem, actor=org.problem_manager)
    prs.problem_publish_workaround(
        problem=problem, actor=org.problem_manager, workaround="Split the export"
    )
    article = Article.objects.get(problem=problem)
    staff = Client()
    staff.force_login(org.agent)
    panel = staff.get(inc.get_absolute_url()).content.decode()
    assert f'data-known-error="{article.key}"' in panel
    assert inc.key in staff.get(article.get_absolute_url()).content.decode()
    prs.problem_resolve(problem=problem, actor=org.problem_manager, resolution_notes="Patched")
    article.refresh_from_db()
    assert "## Fixed\n\nPatched" in article.body and article.version == 2
    assert article.needs_review and problem.key in article.needs_review_reason


# --- API ----------------------------------------------------------------------------------
def test_api_filters_by_tag_service_status_and_rejects_bad_values(org) -> None:  # type: ignore[no-untyped-def]
    a = ks.article_create(
        actor=org.agent, title="Tagged", body="x", tags=["vpn"], services=[org.service]
    )
    b = write(org, "Untagged", "y", services=[])
    agent = api_as(org.agent)

    def keys(query: str) -> set[str]:
        return {r["key"] for r in agent.get(f"/api/v1/articles/?{query}").json()["results"]}

    assert keys("tag=vpn") == {a.key}
    assert keys(f"service={org.service.pk}") == {a.key}
    assert keys("status=published") == {b.key}
    assert keys("status=draft&status=published") == {a.key, b.key}
    assert agent.get("/api/v1/articles/?service=999999").status_code == 400
    assert agent.get("/api/v1/articles/?status=nope").status_code == 400


def test_article_list_query_count_does_not_grow_with_page_size(org) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    write(org, "First", "x")
    agent = api_as(org.agent)
    with CaptureQueriesContext(connection) as small:
        assert agent.get("/api/v1/articles/?page_size=1").status_code == 200
    for i in range(8):
        ks.article_create(actor=org.agent, title=f"A{i}", body="x", tags=[f"t{i}"])
    with CaptureQueriesContext(connection) as large:
        assert len(agent.get("/api/v1/articles/?page_size=50").json()["results"]) == 9
    # roles, count, page, services, tags
    assert len(large.captured_queries) == len(small.captured_queries) <= 6


@pytest.mark.postgres
def test_postgres_ranks_title_then_tags_then_body_with_a_highlighted_snippet(org) -> None:  # type: ignore[no-untyped-def]
    body = write(org, "Working from home", "Plug the dongle in before you start.")
    tagged = ks.article_create(
        actor=org.agent, title="Laptop kit", body="Ask for it.", tags=["dongle"]
    )
    ks.article_transition(article=tagged, actor=org.agent, name="publish")
    title = write(org, "Dongle not recognised", "Try another USB port.")
    hits = api_as(org.agent).get("/api/v1/articles/?q=dongle").json()["results"]
    assert [h["key"] for h in hits] == [title.key, tagged.key, body.key]
    assert "<mark>dongle</mark>" in hits[2]["snippet"]
    from django.db import connection

    with connection.cursor() as cur:
        # A tiny table is scanned anyway; forbid that to see the search can use the index.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(
            "EXPLAIN SELECT id FROM knowledge_article WHERE search_vector @@ "
            "websearch_to_tsquery('english', 'dongle')"
        )
        plan = " ".join(r[0] for r in cur.fetchall())
    assert "article_search_idx" in plan


# --- bad input, and what requesters may not reach ------------------------------------------
def test_bad_page_input_is_a_400_that_keeps_what_was_typed(org) -> None:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(org.agent)
    form = {"title": "Kept", "body": "x", "audience": "internal"}
    for bad in ({"services": "abc"}, {"services": "\u00b2"}, {"services": "999999"}):
        res = c.post("/kb/new/", {**form, **bad})
        assert res.status_code == 400 and b'value="Kept"' in res.content, bad
    res = c.post("/kb/new/", {**form, "review_by": "31/12/2026"})
    assert res.status_code == 400 and b"YYYY-MM-DD" in res.content
    res = c.post("/kb/new/", {**form, "title": "t" * 201})
    assert res.status_code == 400 and b"at most 200" in res.content
    assert not Article.objects.exists()
    for url in (
        "/kb/releases/?service=\u00b2",
        "/kb/releases/?release=abc",
        "/kb/releases/?release=99999999999999999999999",
        "/kb/?status=bogus",
        "/kb/?service=abc",
        "/kb/releases/?q=a%00b",
        "/kb/suggest/?title=a%00b",
    ):
        assert c.get(url).status_code == 400, url
    api = api_as(org.agent)
    assert api.get("/api/v1/articles/?tag=a%00b").status_code == 400
    res = api.post("/api/v1/articles/", {"title": "t" * 201, "body": "b"}, format="json")
    assert res.status_code == 400


def test_requesters_read_articles_not_how_support_keeps_them(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm

    a = write(org, "Public how-to", "Do this.", audience="public")
    ks.article_flag(article=a, reason="PRB-1 is resolved: internal notes.")
    requester = api_as(org.requester)
    seen = requester.get(f"/api/v1/articles/{a.key}/").json()
    assert "needs_review_reason" not in seen and "owner" not in seen and "problem" not in seen
    assert seen["title"] == "Public how-to"
    assert requester.get(f"/api/v1/articles/{a.key}/history/").status_code == 403
    assert api_as(org.agent).get(f"/api/v1/articles/{a.key}/history/").status_code == 200
    for path in ("sla", "comments"):  # articles have neither
        assert api_as(org.agent).get(f"/api/v1/articles/{a.key}/{path}/").status_code == 404
    own = itsm.incident_create(actor=org.requester, service=org.service, title="Mine")
    res = requester.post(f"/api/v1/articles/{a.key}/solved/", {"incident": own.key}, format="json")
    assert res.status_code == 403 and not ArticleUse.objects.exists()
    c = Client()
    c.force_login(org.requester)
    assert c.post("/kb/preview/", {"body": "x"}).status_code == 403
    internal = ks.article_create(actor=org.agent, title="x", body="y", tags=["secret-tag"])
    ks.article_transition(article=internal, actor=org.agent, name="publish")
    assert b"secret-tag" not in c.get("/kb/").content


def test_a_knowledge_failure_never_undoes_the_action_it_follows(org, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm
    from itsm.services import problems as prs

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = prs.problem_create(
        actor=org.problem_manager, title="E" * 200, service=org.service, incidents=[inc]
    )
    prs.problem_publish_workaround(problem=problem, actor=org.problem_manager, workaround="W")
    article = Article.objects.get(problem=problem)  # a 200-character title still fits
    assert len(article.title) == 200 and article.title.startswith("Known error: E")

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("knowledge base down")

    monkeypatch.setattr(ks, "article_update", broken)
    problem = prs.problem_publish_workaround(
        problem=problem, actor=org.problem_manager, workaround="W2"
    )
    problem.refresh_from_db()
    assert problem.workaround == "W2"  # the problem's action stands
    assert "knowledge base down" in caplog.text


def test_tandem_rewriting_a_known_error_keeps_its_review_flag(org) -> None:  # type: ignore[no-untyped-def]
    from itsm import services as itsm
    from itsm.services import problems as prs

    inc = itsm.incident_create(actor=org.requester, service=org.service, title="Export fails")
    problem = prs.problem_create(
        actor=org.problem_manager, title="Export fails", service=org.service, incidents=[inc]
    )
    prs.problem_publish_workaround(problem=problem, actor=org.problem_manager, workaround="W")
    release = _go_live(org)
    prs.problem_publish_workaround(problem=problem, actor=org.problem_manager, workaround="W2")
    article = Article.objects.get(problem=problem)
    assert "W2" in article.body and article.version == 2
    assert article.needs_review and article.review_release == release  # nobody reviewed it


def test_pages_query_counts_do_not_grow_with_rows(org) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from projects.models import WorkItem

    c = Client()
    c.force_login(org.agent)

    def count(url: str) -> int:
        c.get(url)  # warm the session and caches
        with CaptureQueriesContext(connection) as q:
            assert c.get(url).status_code == 200
        return len(q.captured_queries)

    write(org, "First", "payslip")
    first = _go_live(org, "1.0")
    WorkItem.objects.create(
        project=first.project, kind="defect", number=1, title="d", reported_by=org.developer
    )
    small = [count(u) for u in ("/kb/?q=payslip", "/kb/review/", "/kb/releases/")]
    for i in range(4):
        write(org, f"More {i}", "payslip", services=[org.service])
        _go_live(org, f"2.{i}")
    assert [count(u) for u in ("/kb/?q=payslip", "/kb/review/", "/kb/releases/")] == small


def test_restore_an_old_version_and_the_review_queue(org) -> None:  # type: ignore[no-untyped-def]
    a = write(org, "VPN", "Old advice.")
    ks.article_update(article=a, actor=org.agent, body="Bad advice.", audience="public")
    c = Client()
    c.force_login(org.support2)
    page = c.get(f"/kb/{a.key}/history/").content.decode()
    assert 'data-restore="1"' in page and 'data-restore="2"' not in page
    assert c.post(f"/kb/{a.key}/restore/1/").status_code == 302
    a.refresh_from_db()
    assert (a.body, a.audience, a.version) == ("Old advice.", "internal", 3)
    assert a.versions.get(number=3).note == "Restored v1."
    assert c.post(f"/kb/{a.key}/restore/9/").status_code == 404
    api = api_as(org.agent)
    res = api.post(f"/api/v1/articles/{a.key}/restore/", {"version": 2}, format="json")
    assert (
        res.status_code == 200
        and res.json()["version"] == 4
        and res.json()["body"] == "Bad advice."
    )
    assert api.post(f"/api/v1/articles/{a.key}/restore/", {"version": "x"}).status_code == 400
    draft = ks.article_create(actor=org.agent, title="Please check", body="x")
    ks.article_transition(article=draft, actor=org.agent, name="submit_review")
    review = c.get("/kb/review/").content.decode()
    assert 'id="waiting"' in review and draft.key in review
    res = c.post(
        f"/kb/{draft.key}/transitions/publish/", {"next": "/kb/review/"}
    )  # a colleague publishes from the queue and stays there
    assert res["Location"] == "/kb/review/"
    draft.refresh_from_db()
    assert draft.status == "published"
    requester = Client()
    requester.force_login(org.requester)
    assert (
        requester.post(f"/kb/{a.key}/restore/1/").status_code == 403
    )  # public, not theirs to edit
