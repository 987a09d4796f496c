"""Demo articles: public how-tos, internal notes, a development note; the known-error
articles come from the demo problems' published workarounds."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.models import Service
from core.services import history_at, outbox_suppressed
from knowledge import services
from knowledge.models import Article, ArticleUse

User = get_user_model()

ARTICLES = [
    (
        "Read your payslip: tax code, deductions and net pay",
        "public",
        "Payroll",
        "Your payslip shows **gross pay**, each deduction and **net pay**.\n\n"
        "* The *tax code* sits top right; if it looks wrong, check it in the HR Portal under "
        "*My details › Tax*.\n* Overtime appears the month after it was approved.\n",
    ),
    (
        "Reset your HR Portal password",
        "public",
        "HR Portal",
        "1. Open the HR Portal login page.\n2. Choose **Forgot password**.\n3. Follow the link "
        "in the email within 30 minutes.\n\nIf the login page loops back to the start, clear "
        "your browser's cookies for the portal.",
    ),
    (
        "Customer portal: checkout button does nothing",
        "public",
        "Customer Portal",
        "Disable browser extensions that block pop-ups, then reload the page. If the button "
        "still does nothing, raise an incident and say which browser you use.",
    ),
    (
        "Restart the payroll batch scheduler",
        "internal",
        "Payroll",
        "Only for 2nd line.\n\n```\nsudo systemctl restart payroll-scheduler\n```\n\n"
        "Check the heartbeat job afterwards.",
    ),
    (
        "Tax table import: design notes",
        "development",
        "Payroll",
        "The import reads the HMRC file nightly; bands are versioned by tax year.",
    ),
    (
        "Calendar sync fails on phone: add the account again",
        "public",
        "Email & Calendar",
        "1. On the phone, open *Settings › Accounts* and remove the work account.\n"
        "2. Add it again and sign in.\n3. Turn on **Calendars** for it.\n\n"
        "Still no events after 15 minutes? Raise an incident and say which phone you use.",
    ),
]


def seed(stdout: TextIO) -> None:
    if Article.objects.filter(problem__isnull=True).exists():
        stdout.write(f"  {Article.objects.count()} articles already there")
        return
    author = User.objects.get(username="agent")
    reviewer = User.objects.get(username="support2")
    today = timezone.localdate()
    written = timezone.now() - timedelta(days=WRITTEN_DAYS_AGO)
    with transaction.atomic(), outbox_suppressed():
        for i, (title, audience, service, body) in enumerate(ARTICLES):
            # written and published before the demo's incidents began
            with history_at(written + timedelta(hours=i)):
                article = services.article_create(
                    actor=author,
                    title=title,
                    body=body,
                    audience=audience,
                    services=[Service.objects.get(name=service)],
                    tags=[service.lower()],
                    # the scheduler's restart notes were due for review last month
                    review_by=today - timedelta(days=30) if i == 3 else today + timedelta(days=180),
                )
            with history_at(written + timedelta(days=1, hours=i)):
                services.article_transition(article=article, actor=reviewer, name="publish")
        flagged = services.articles_flag_overdue(today)
        used = _seed_uses()
    stdout.write(
        f"  {Article.objects.count()} articles, {flagged} past its review date, "
        f"{used} uses over past weeks (deflections, links)"
    )


WRITTEN_DAYS_AGO = 100
# Who searches the portal and finds the answer there (no incident raised).
PORTAL_QUERIES = {
    "Payroll": "tax code wrong",
    "HR Portal": "password reset",
    "Customer Portal": "checkout button",
    "Email & Calendar": "calendar not syncing",
}


def _seed_uses() -> int:
    """Knowledge in use over the past 13 weeks, through ``article_used`` at the moment it
    happened (``history_at``): requesters who said "this solved it" on the portal and
    raised nothing (deflections), a few each week and more as the articles got known; and
    the desk linking an article to an incident of its service soon after it came in."""
    from itsm.demo import updated_at_kept
    from itsm.models import Incident

    rnd = random.Random(1613)
    public = list(
        Article.objects.filter(audience="public", status="published", problem__isnull=True)
        .prefetch_related("services")
        .order_by("pk")
    )
    requesters = list(User.objects.filter(username__in=["requester", "requester2"]))
    agent = User.objects.get(username="agent")
    now = timezone.now()
    zone = timezone.get_current_timezone()
    for week in range(13, 0, -1):
        monday = timezone.localdate() - timedelta(days=7 * week)
        for _ in range(rnd.randint(1, 3) + (13 - week) // 4):
            article = rnd.choice(public)
            day = monday + timedelta(days=rnd.randint(0, 4))
            moment = datetime.combine(day, time(9), tzinfo=zone) + timedelta(
                minutes=rnd.randint(0, 540)
            )
            if moment >= now:
                continue
            service = article.services.first()
            with history_at(moment):
                services.article_used(
                    article=article,
                    actor=rnd.choice(requesters),
                    query=PORTAL_QUERIES.get(service.name if service else "", ""),
                )
    by_service = {a.services.first().pk: a for a in public if a.services.exists()}
    desk = Incident.objects.filter(
        tier=1,
        service_id__in=list(by_service),
        created_at__gte=now - timedelta(days=91),
        responded_at__isnull=False,
        resolved_at__isnull=False,  # an open one's clocks run: a row in its past moves them
    ).order_by("created_at")
    for inc in desk:
        if rnd.random() > 0.3:
            continue
        with history_at(inc.responded_at + timedelta(minutes=3)), updated_at_kept(inc):
            services.article_used(article=by_service[inc.service_id], actor=agent, incident=inc)
    return ArticleUse.objects.count()
