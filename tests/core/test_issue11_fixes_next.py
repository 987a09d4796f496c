"""Issue 11 review fix: after a refused POST re-renders a record's page, its panels'
forms (comment box, watchers, attachments) carry ``next`` = the record's page, not the
POST-only URL (following it answered 405)."""

from __future__ import annotations

import re

from django.test import Client

from projects import services as ps
from projects.models import Project


def test_forms_after_a_refused_comment_come_back_to_the_item_page(org) -> None:  # type: ignore[no-untyped-def]
    project = Project.objects.create(code="PAY", name="Payroll", team=org.dev)
    item = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="x")
    c = Client()
    c.force_login(org.developer)
    res = c.post(f"/work/{item.key}/comments/", {"body": "   "})
    assert res.status_code == 400
    html = res.content.decode()
    nexts = re.findall(r'name="next" value="([^"]*)"', html)
    assert len(nexts) >= 3, nexts  # comment box, watchers, attachments
    assert all(n == f"/work/{item.key}/" for n in nexts), nexts
    # on a GET the panels come back to the page as shown (its tab, its query)
    html = c.get(f"/work/{item.key}/?tab=comments").content.decode()
    assert f"/work/{item.key}/?tab=comments" in re.findall(r'name="next" value="([^"]*)"', html)
