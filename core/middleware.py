"""Request guards every app shares."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.exceptions import error_body


class RejectNulCharacters:
    """A NUL character in a query string or form field is refused with a 400 here, once:
    PostgreSQL cannot store or compare it, and a view that passes raw text to a query
    (a search, a filter) would otherwise fail with a 500. Django forms and DRF fields
    already refuse it; this covers code that reads ``request.GET`` / ``POST`` directly."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for params in (request.GET, request.POST):
            for key, values in params.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    message = f"The field '{key.replace(chr(0), '')}' contains a NUL character."
                    if request.path.startswith("/api/"):
                        body = error_body("invalid", message, {key.replace(chr(0), ""): [message]})
                        return JsonResponse(body, status=400)
                    return HttpResponse(message, status=400, content_type="text/plain")
        return self.get_response(request)


class HealthProbes:
    """``/healthz`` and ``/readyz`` are answered here, first of all middleware: a probe
    reaches the process at its own address (``127.0.0.1:8000`` in docker-compose.yml's
    healthcheck, a pod's IP), over plain HTTP, with no session. The host check
    (``ALLOWED_HOSTS``) would refuse it with a 400 and the HTTPS redirect would send it
    elsewhere; neither protects anything here, as the answers hold no link and no secret."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from core import health_views

        self.get_response = get_response
        self.probes = {"/healthz": health_views.healthz, "/readyz": health_views.readyz}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
