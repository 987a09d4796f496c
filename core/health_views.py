"""``/healthz`` and ``/readyz``: JSON for load balancers, orchestrators and operators.

Neither needs a sign-in, and neither is cached (``never_cache``) or throttled (plain Django
views, not DRF); ``core.middleware.HealthProbes`` answers them ahead of the host check and
the HTTPS redirect."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Reads nothing, not even the database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every check of ``core.health``; 503 naming the checks that fail."""
    body = health.report(health.run_checks())
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
