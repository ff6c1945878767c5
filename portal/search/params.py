"""The search box's words and filters, read from a request's query string
(the page and the API take the same names) into query.Terms and Filters.
Bad values are InvalidInput naming the field; a space the caller is not in
is the same NotFound as a space that does not exist."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.core.sizes import parse_size
from portal.search.models import FileType
from portal.search.query import Filters, Terms, terms_of
from portal.spaces.selectors import space_access

MAX_Q = 200
FILTER_NAMES = ("space", "type", "modified_after", "modified_before", "size_min", "size_max", "owner")


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=f"invalid_{field}", detail={"field": field})


def _text(params, field: str) -> str:
    """The field's value; a NUL (no database stores one) is refused naming the field."""
    value = params.get(field) or ""
    if "\x00" in value:
        raise _bad(field, gettext("%(field)s cannot contain a NUL character.") % {"field": field})
    return value


def terms_from(params, *, required: bool = False) -> Terms:
    q = _text(params, "q")
    if len(q) > MAX_Q:
        raise _bad("q", gettext("Search for at most %(count)d characters.") % {"count": MAX_Q})
    terms = terms_of(q)
    if required and not terms:
        raise _bad("q", gettext("Say what to look for: q needs at least one word or number."))
    return terms


def _size(params, field: str) -> int | None:
    """Bytes: a whole number (the API's form) or a size with its unit ("10 MB", the page's form)."""
    value = _text(params, field).strip()
    if not value:
        return None
    if value.isascii() and value.isdigit() and len(value) <= 18:   # not "²" or "١"
        return int(value)
    try:
        size = parse_size(value, field=field)
    except InvalidInput:
        size = None
    if size is None or size >= 2**63:
        raise _bad(field, gettext("%(field)s is a size such as 10 MB, or a whole number of bytes.") % {"field": field})
    return size


def _moment(params, field: str) -> datetime | None:
    value = _text(params, field).strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise _bad(field, gettext("%(field)s is a date such as 2024-03-31.") % {"field": field})
    if moment is None:
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _space(actor, params) -> int | None:
    value = _text(params, "space").strip()
    if not value:
        return None
    return space_access(actor, value, Cap.FILE_READ).space.pk


def _owner(params) -> int | None:
    value = _text(params, "owner").strip()
    if not value:
        return None
    user_id = get_user_model().objects.filter(username__iexact=value).values_list("pk", flat=True).first()
    return user_id if user_id is not None else -1   # nobody by that name uploaded anything


def filters_from(actor, params) -> Filters:
    kind = _text(params, "type").strip() or None
    if kind is not None and kind not in FileType.values:
        raise _bad("type", gettext("type is one of: %(types)s.") % {"types": ", ".join(FileType.values)})
    filters = Filters(space_id=_space(actor, params), file_type=kind,
                      modified_after=_moment(params, "modified_after"),
                      modified_before=_moment(params, "modified_before"),
                      size_min=_size(params, "size_min"), size_max=_size(params, "size_max"), owner_id=_owner(params))
    return filters


def any_filter(params) -> bool:
    return any((params.get(name) or "").strip() for name in FILTER_NAMES)
