"""Permission filters for pages whose views are not ours to extend (the board header):
``{% if request.user|may_manage_projects %}``, ``{% if request.user|may_plan_releases:project %}``.
They ask the same functions the project and release services check."""

from __future__ import annotations

from typing import Any

from django import template

from projects import permissions

register = template.Library()


@register.filter
def may_manage_projects(user: Any) -> bool:
    return permissions.can_manage_projects(user)


@register.filter
def may_plan_releases(user: Any, project: Any) -> bool:
    return permissions.takes_new_work(project) and permissions.can_plan_releases(user, project)
