"""Sign-in events into the audit log, and the answer to a throttled sign-in.

Django and django-axes announce sign-ins through signals; these receivers are
the one place that turns them into audit events.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record


def _username(credentials: dict | None) -> str:
    return str((credentials or {}).get("username", ""))[:150]


@receiver(user_logged_in, dispatch_uid="audit_login")
def _on_login(sender, request, user, **kwargs):
    record(action=Action.LOGIN, actor=user, target=user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        record(action=Action.LOGOUT, actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    locked = bool(getattr(request, "axes_locked_out", False))
    record(action=Action.LOGIN_FAILED, actor=None, actor_label=_username(credentials),
           target_label=_username(credentials), outcome=Outcome.DENIED if locked else Outcome.FAILURE,
           details={"throttled": locked, **({"via": "webdav"} if _via_webdav(request) else {})})


def _via_webdav(request) -> bool:
    return request is not None and request.path.startswith("/dav/")


@receiver(user_locked_out, dispatch_uid="audit_login_throttled")
def _on_locked_out(sender, request, username, ip_address, **kwargs):
    record(action=Action.LOGIN_THROTTLED, actor=None, actor_label=str(username or "")[:150],
           target_label=str(username or "")[:150], outcome=Outcome.DENIED,
           details={"cooloff_minutes": round(settings.AXES_COOLOFF_TIME * 60)})


def lockout_response(request, original_response=None, credentials=None):
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    message = (f"Too many failed sign-ins for this account from your address. "
               f"Try again in {minutes} minutes, or ask an administrator to reset it.")
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"code": "throttled", "message": message, "detail": {"retry_after_minutes": minutes}},
                            status=429, headers={"Retry-After": str(minutes * 60)})
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
