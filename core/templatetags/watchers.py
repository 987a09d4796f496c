"""``{% watchers_panel record %}``: a record page's Watchers panel — Watch / Stop watching
for the viewer, the list of watchers (staff: ``Parts.watchers``; a requester sees only
whether they watch) and "Add watcher" for staff who may work the record, from the same
rules ``core.watchers`` checks. The requester of an incident adds and removes colleagues
as participants (``core.watchers.may_add_participants``) and sees only those."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from core import watchers
from core.roles import is_staff_member, preload_roles
from core.views import return_path
from core.visibility import parts_for

register = template.Library()


@register.inclusion_tag("core/_watchers.html", takes_context=True)
def watchers_panel(context: template.Context, record: Any) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    shown = watchers.is_watchable(record) and getattr(user, "is_authenticated", False)
    rows = list(watchers.watchers_of(record)) if shown else []
    url = reverse("watch_add", args=[record._meta.label_lower, record.pk]) if shown else ""
    # may_manage_watchers, asked in two parts so the work rule (a query) is asked once
    works = shown and watchers.may_work(user, record)
    participants = shown and not works and watchers.may_add_participants(user, record)
    can_manage = works or participants
    if shown and parts_for(user, record).watchers:
        listed = rows
    elif participants:  # a requester sees the colleagues they may add and remove
        preload_roles(w.user for w in rows)  # one query for all, not one per watcher
        listed = [w for w in rows if w.user_id != user.pk and not is_staff_member(w.user)]
    else:
        listed = []
    return {
        "shown": shown,
        "record": record,
        "watching": any(w.user_id == user.pk for w in rows),
        "rows": listed,
        "count": len(listed) if participants else len(rows),
        "can_manage": can_manage,
        "participants": participants,
        "add_url": url,
        "remove_url": url + "remove/" if url else "",
        "next": return_path(request, record),
        "csrf_token": context.get("csrf_token"),
        "viewer": user,
    }
