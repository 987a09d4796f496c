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
