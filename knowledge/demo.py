"""Demo articles: public how-tos, internal notes, a development note; the known-error
articles come from the demo problems' published workarounds."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.models import Service
from core.services import outbox_suppressed
from knowledge import services
from knowledge.models import Article

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
    with transaction.atomic(), outbox_suppressed():
        for i, (title, audience, service, body) in enumerate(ARTICLES):
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
            services.article_transition(article=article, actor=reviewer, name="publish")
        flagged = services.articles_flag_overdue(today)
    stdout.write(f"  {Article.objects.count()} articles, {flagged} past its review date")
