"""One error shape for the whole API: ``{"code", "message", "detail"}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy

from portal.core.errors import PortalError, ServiceUnavailable
from portal.core.outage import is_outage, log_outage

_CODES = {
    drf.ParseError: ("malformed_request", gettext_lazy("The request body could not be read: {}")),
    drf.ValidationError: ("invalid_input", gettext_lazy("The request is not valid: {}")),
    drf.NotAuthenticated: ("not_authenticated", "{}"),
    drf.AuthenticationFailed: ("not_authenticated", "{}"),
    drf.PermissionDenied: ("forbidden", "{}"),
    drf.NotFound: ("not_found", "{}"),
    drf.MethodNotAllowed: ("method_not_allowed", "{}"),
    drf.NotAcceptable: ("not_acceptable", "{}"),
    drf.UnsupportedMediaType: ("unsupported_media_type", gettext_lazy("{} Send JSON.")),
    drf.Throttled: ("throttled", "{}"),
}


def _summary(detail) -> str:
    """A readable one-line summary of DRF's nested validation messages."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_summary(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_summary(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    if not isinstance(exc, PortalError) and is_outage(exc):  # Redis is down: 503 in the one shape, Retry-After
        request = context.get("request")
        log_outage(exc, getattr(request, "method", "?"), getattr(request, "path", "?"))
        exc = ServiceUnavailable()
    if isinstance(exc, PortalError):
        return Response(exc.as_dict(), status=exc.status, headers=getattr(exc, "headers", None))
    if isinstance(exc, Http404):
        exc = drf.NotFound(gettext("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code, template = next((v for k, v in _CODES.items() if isinstance(exc, k)), ("error", "{}"))
    detail = exc.detail if isinstance(exc, drf.ValidationError) else {}
    response.data = {"code": code, "message": str(template).format(_summary(exc.detail)), "detail": detail}
    return response


def json_not_found(request, exception=None):
    return JsonResponse({"code": "not_found", "message": gettext("Not found."), "detail": {}},
                        status=404)


def json_server_error(request):
    return JsonResponse({"code": "server_error", "message": gettext("Something went wrong on our side; it was logged. "
                         "Try again, and tell an administrator if it persists."), "detail": {}}, status=500)
