"""The test's handle on the provider: make and change users and the client.
Bearer-token protected (IDP_CONTROL_TOKEN), JSON in and out."""

import json
from functools import wraps

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.http import HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import Application


def _controlled(view):
    @csrf_exempt
    @wraps(view)
    def wrapper(request):
        if not settings.CONTROL_TOKEN or request.headers.get("Authorization") != f"Bearer {settings.CONTROL_TOKEN}":
            return HttpResponseForbidden()
        return JsonResponse(view(json.loads(request.body or b"{}")))
    return wrapper


@_controlled
def user_set(data: dict) -> dict:
    """Creates or updates the user ``username`` (renamed to ``rename_to``);
    ``groups`` replaces their groups; ``active`` False disables them."""
    user, _ = User.objects.get_or_create(username=data["username"])
    if "rename_to" in data:
        user.username = data["rename_to"]
    for field in ("email", "first_name", "last_name"):
        if field in data:
            setattr(user, field, data[field])
    if "active" in data:
        user.is_active = bool(data["active"])
    if "password" in data:
        user.set_password(data["password"])
    user.save()
    if "groups" in data:
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in data["groups"]])
    return {"sub": str(user.pk), "username": user.username}


@_controlled
def client_set(data: dict) -> dict:
    """A confidential authorization-code client (PKCE is required by the provider), consent skipped."""
    app, _ = Application.objects.get_or_create(client_id=data["client_id"], defaults={
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE, "name": "Coffer"})
    app.client_secret = data["client_secret"]  # hashed on save
    app.redirect_uris = " ".join(data["redirect_uris"])
    app.post_logout_redirect_uris = " ".join(data.get("post_logout_redirect_uris", []))
    app.algorithm = Application.RS256_ALGORITHM
    app.skip_authorization = data.get("skip_authorization", True)
    app.save()
    return {"client_id": app.client_id}


def whoami(request):
    user = request.user
    return JsonResponse({"username": user.username if user.is_authenticated else None})
