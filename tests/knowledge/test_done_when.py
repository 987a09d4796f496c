"""Issue 6's acceptance, end to end through the real services, pages and API (CI runs it
on PostgreSQL: full-text search, ranked, with a highlighted snippet)."""

from __future__ import annotations

from django.test import Client

from itsm import services as itsm
from itsm.models import Incident
from itsm.services import problems as prs
from knowledge.models import Article, ArticleUse
from projects import services as ps
from projects.models import Project
from tests.conftest import api_as
from tests.projects.test_release_control import scheduled_change


def test_written_offered_solved_then_flagged_by_a_go_live(org) -> None:  # type: ignore[no-untyped-def]
    # An agent writes and publishes an article for a service (the pages).
    agent = Client()
    agent.force_login(org.agent)
    res = agent.post(
        "/kb/new/",
        {
            "title": "Payslip PDF will not open",
            "body": "Open the payslip in the **HR Portal** app, not the browser preview.",
            "audience": "public",
            "services": [org.service.pk],
            "tags": "payslip, pdf",
        },
    )
    article = Article.objects.get()
    assert res["Location"] == article.get_absolute_url()
    agent.post(f"/kb/{article.key}/transitions/publish/")
    article.refresh_from_db()
    assert article.status == "published"

    # A requester typing a matching incident title is offered it, and it solved it.
    requester = Client()
    requester.force_login(org.requester)
    typed = "my payslip pdf does not open"
    frag = requester.get(f"/kb/suggest/?title={typed}", HTTP_HX_REQUEST="true").content.decode()
    assert f'data-article="{article.key}"' in frag
    requester.post(f"/kb/{article.key}/solved/", {"title": typed, "service": org.service.pk})
    use = ArticleUse.objects.get()
    assert (use.kind, use.incident, use.user) == ("deflected", None, org.requester)
    assert not Incident.objects.filter(requester=org.requester).exists()  # deflected

    # A known error on the same service, fixed by the release.
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    project.services.add(org.service)
    release = ps.release_create(
        actor=org.change_manager, project=project, version="2.3", change=scheduled_change(org)
    )
    for step in ("start_development", "start_testing"):
        release = ps.release_transition(release=release, actor=org.change_manager, name=step)
    inc = itsm.incident_create(actor=org.requester2, service=org.service, title="Export fails")
    problem = prs.problem_create(
        actor=org.problem_manager, title="Export fails", service=org.service, incidents=[inc]
    )
    problem = prs.problem_investigate(problem=problem, actor=org.problem_manager)
    problem = prs.problem_mark_known_error(
        problem=problem, actor=org.problem_manager, root_cause="limit", workaround="split"
    )
    prs.problem_publish_workaround(problem=problem, actor=org.problem_manager)
    known_error = Article.objects.get(problem=problem)
    defect = ps.work_item_create(
        actor=org.developer, kind="defect", project=project, title="Raise the limit"
    )
    ps.defect_link_problem(item=defect, actor=org.developer, problem=problem)
    ps.work_start(item=defect, actor=org.developer)
    ps.work_fix(item=defect, actor=org.developer, release=release)

    # The release goes live through its gate.
    ps.release_sign_off_uat(release=release, actor=org.support2)
    ps.release_transition(release=release, actor=org.change_manager, name="ready")
    ps.release_go_live(release=release, actor=org.change_manager)

    # The article shows *needs review* with the release named, on the page and in the API.
    article.refresh_from_db()
    assert article.needs_review and article.review_release == release
    page = agent.get(article.get_absolute_url()).content.decode()
    assert 'id="needs-review"' in page and "PAY 2.3" in page
    assert (
        "PAY 2.3"
        in api_as(org.agent).get(f"/api/v1/articles/{article.key}/").json()["needs_review_reason"]
    )
    assert article.key in agent.get("/kb/review/").content.decode()
    # The known error says it is fixed, and waits for its owner to retire it.
    known_error.refresh_from_db()
    assert "## Fixed" in known_error.body and defect.key in known_error.body
    assert known_error.needs_review

    # Search returns the article first for its key words, with a highlighted snippet.
    hits = api_as(org.requester).get("/api/v1/articles/?q=payslip pdf").json()["results"]
    assert hits[0]["key"] == article.key and "<mark>" in hits[0]["snippet"]
