"""/scim/v2/: the SCIM 2.0 service provider (RFC 7644) Okta and Microsoft
Entra provision users and groups through. Each view: the bearer token, the
request read, one service, the resource written back as application/scim+json."""

from __future__ import annotations

import functools
import json

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from portal.core.errors import PortalError
from portal.people.models import Group, GroupSource
from portal.people.scim import filters, groups, patch, schema, services, users
from portal.people.scim.errors import ScimError, from_portal_error, invalid_syntax, invalid_value, not_found

CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100


def _response(body, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(b"" if body is None else json.dumps(body), status=status,
                            content_type=CONTENT_TYPE if body is not None else None)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(exc: ScimError) -> HttpResponse:
    response = _response(exc.as_dict(), exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
    return response


def scim_endpoint(methods):
    """Bearer-token check, allowed methods and SCIM's error shape for one view."""
    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def handler(request, *args, **kwargs):
            try:
                header = request.META.get("HTTP_AUTHORIZATION", "")
                scheme, _, raw = header.partition(" ")
                token = services.scim_token_authenticate(raw) if scheme.lower() == "bearer" else None
                if token is None:
                    raise ScimError(401, gettext("A valid SCIM bearer token is required."))
                if request.method not in methods:
                    raise ScimError(405, gettext("%(method)s is not allowed here.") % {"method": request.method})
                return view(request, token, *args, **kwargs)
            except ScimError as exc:
                return _error(exc)
            except PortalError as exc:
                return _error(from_portal_error(exc))
        return handler
    return wrap


def _base(request) -> str:
    return request.build_absolute_uri("/scim/v2").rstrip("/")


def _body(request):
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid_syntax(gettext("The request body is not JSON.")) from None


def _number(request, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(gettext("%(name)s is a whole number.") % {"name": name}) from None


def _trimmed(body: dict, request) -> dict:
    """``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5); id, schemas and meta always stay."""
    keep = {"id", "schemas", "meta"}
    wanted = {a.strip().split(".")[0].split(":")[-1].lower() for a in request.GET.get("attributes", "").split(",")
              if a.strip()}
    dropped = {a.strip().split(".")[0].split(":")[-1].lower()
               for a in request.GET.get("excludedAttributes", "").split(",") if a.strip()}
    return {k: v for k, v in body.items()
            if k in keep or ((not wanted or k.lower() in wanted) and k.lower() not in dropped)}


def _list(request, queryset, fields, core_uri, render) -> HttpResponse:
    if request.GET.get("filter"):
        queryset = queryset.filter(filters.to_q(filters.parse(request.GET["filter"]), fields, core_uri)).distinct()
    start = max(_number(request, "startIndex", 1), 1)
    count = min(max(_number(request, "count", DEFAULT_COUNT), 0), schema.MAX_RESULTS)
    total = queryset.count()
    page = list(queryset[start - 1:start - 1 + count]) if count else []
    resources = [_trimmed(render(item), request) for item in page]
    return _response({"schemas": [schema.LIST], "totalResults": total, "startIndex": start,
                      "itemsPerPage": len(resources), "Resources": resources})


# --- Discovery ----------------------------------------------------------------------

@scim_endpoint({"GET"})
def service_provider_config(request, token):
    return _response(schema.service_provider_config(_base(request)))


@scim_endpoint({"GET"})
def resource_types(request, token, type_id=None):
    return _one_or_list(schema.resource_types(_base(request)), type_id)


@scim_endpoint({"GET"})
def schemas(request, token, schema_id=None):
    return _one_or_list(schema.schemas(_base(request)), schema_id)


def _one_or_list(items: list[dict], item_id) -> HttpResponse:
    if item_id is None:
        return _response({"schemas": [schema.LIST], "totalResults": len(items), "startIndex": 1,
                          "itemsPerPage": len(items), "Resources": items})
    found = next((item for item in items if item["id"] == item_id), None)
    if found is None:
        raise not_found(gettext("No such resource type or schema."))
    return _response(found)


# --- Users --------------------------------------------------------------------------

def _users():
    scim_groups = Group.objects.filter(source=GroupSource.SCIM).order_by("pk")
    return users.users_queryset().prefetch_related(Prefetch("people_groups", queryset=scim_groups))


def _user(user_id, *, lock: bool = False):
    queryset = users.users_queryset().select_for_update(of=("self",)) if lock else _users()
    user = queryset.filter(pk=int(user_id)).first() if str(user_id).isdigit() else None
    if user is None:
        raise not_found(gettext("No user has the id %(id)s.") % {"id": user_id})
    return user


def _user_response(request, user_id, status: int = 200) -> HttpResponse:
    user = _user(user_id)
    body = users.to_scim(user, _base(request), user.people_groups.all())
    return _response(_trimmed(body, request), status, **({"Location": body["meta"]["location"]}
                                                        if status == 201 else {}))


@scim_endpoint({"GET", "POST"})
def users_collection(request, token):
    if request.method == "POST":
        user = services.scim_user_create(token=token, fields=users.fields_from(_body(request)))
        return _user_response(request, user.pk, 201)
    base = _base(request)
    return _list(request, _users(), users.FILTERABLE, schema.USER,
                 lambda user: users.to_scim(user, base, user.people_groups.all()))


@scim_endpoint({"GET", "PUT", "PATCH", "DELETE"})
def user_detail(request, token, user_id):
    if request.method == "GET":
        return _user_response(request, user_id)
    if request.method == "DELETE":
        services.scim_user_deactivate(token=token, user=_user(user_id))
        return _response(None, 204)
    if request.method == "PUT":
        services.scim_user_update(token=token, user=_user(user_id), fields=users.fields_from(_body(request)))
        return _user_response(request, user_id)
    ops = patch.operations(_body(request))
    with transaction.atomic():  # read, merge and write the same version of the user
        user = _user(user_id, lock=True)
        fields = users.fields_from(patch.apply(users.editable(user), ops, users.SHAPE))
        services.scim_user_update(token=token, user=user, fields=fields)
    return _user_response(request, user_id)


# --- Groups -------------------------------------------------------------------------

def _group(group_id, *, lock: bool = False) -> Group:
    queryset = groups.groups_queryset().select_for_update() if lock else groups.groups_queryset(with_members=True)
    group = queryset.filter(pk=int(group_id)).first() if str(group_id).isdigit() else None
    if group is None:
        raise not_found(gettext("No group has the id %(id)s.") % {"id": group_id})
    return group


def _group_response(request, group_id, status: int = 200) -> HttpResponse:
    group = _group(group_id)
    body = _trimmed(groups.to_scim(group, _base(request), with_members=_wants_members(request)), request)
    return _response(body, status, **({"Location": body["meta"]["location"]} if status == 201 else {}))


def _wants_members(request) -> bool:
    excluded = {a.strip().lower() for a in request.GET.get("excludedAttributes", "").split(",")}
    wanted = {a.strip().lower() for a in request.GET.get("attributes", "").split(",") if a.strip()}
    return "members" not in excluded and (not wanted or "members" in wanted)


@scim_endpoint({"GET", "POST"})
def groups_collection(request, token):
    if request.method == "POST":
        name, external_id, members = groups.read(_body(request))
        group = services.scim_group_create(token=token, name=name, external_id=external_id or "",
                                           user_ids=members or ())
        return _group_response(request, group.pk, 201)
    base, with_members = _base(request), _wants_members(request)
    return _list(request, groups.groups_queryset(with_members=with_members), groups.FILTERABLE, schema.GROUP,
                 lambda group: groups.to_scim(group, base, with_members=with_members))


@scim_endpoint({"GET", "PUT", "PATCH", "DELETE"})
def group_detail(request, token, group_id):
    if request.method == "GET":
        return _group_response(request, group_id)
    if request.method == "DELETE":
        services.scim_group_delete(token=token, group=_group(group_id))
        return _response(None, 204)
    if request.method == "PUT":
        name, _, members = groups.read(_body(request))
        services.scim_group_update(token=token, group=_group(group_id), name=name, user_ids=members or [])
        return _group_response(request, group_id)
    ops = patch.operations(_body(request))
    with transaction.atomic():
        group = _group(group_id, lock=True)
        name, _, members = groups.read(patch.apply(groups.editable(group), ops, groups.SHAPE))
        services.scim_group_update(token=token, group=group, name=name, user_ids=members or [])
    return _group_response(request, group_id)


@csrf_exempt
def unknown(request, rest=""):
    return _error(not_found(gettext("There is no SCIM endpoint here.")))
