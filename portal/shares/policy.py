"""Link policy: the deployment's settings, tightened (never loosened) per space."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext

from portal.core.errors import InvalidInput
from portal.shares.models import SpaceSharePolicy
from portal.spaces.models import Space

_UNSET = object()


@dataclass(frozen=True)
class LinkPolicy:
    default_days: int
    max_days: int
    allow_permanent: bool
    require_password: bool

    def as_dict(self) -> dict:
        return {"default_days": self.default_days, "max_days": self.max_days,
                "allow_permanent": self.allow_permanent, "require_password": self.require_password,
                "password_min_length": settings.SHARE_PASSWORD_MIN_LENGTH}


def policy_for(space: Space) -> LinkPolicy:
    """The policy in force in ``space`` (one query for the space's own tightening)."""
    own = SpaceSharePolicy.objects.filter(space_id=space.pk).first()
    max_days = settings.SHARE_MAX_DAYS
    if own is not None and own.max_days:
        max_days = min(max_days, own.max_days)
    default_days = settings.SHARE_DEFAULT_DAYS
    if own is not None and own.default_days:
        default_days = own.default_days
    return LinkPolicy(
        default_days=min(default_days, max_days),
        max_days=max_days,
        allow_permanent=settings.SHARE_ALLOW_PERMANENT and not (own is not None and own.allow_permanent is False),
        require_password=settings.SHARE_REQUIRE_PASSWORD or bool(own is not None and own.require_password),
    )


def expiry_for(policy: LinkPolicy, requested=_UNSET, *, now: datetime | None = None) -> datetime | None:
    """The expiry to store: the policy default when none was asked for; None
    (permanent) only where policy allows; never beyond the maximum."""
    now = now or timezone.now()
    if requested is _UNSET:
        return now + timedelta(days=policy.default_days)
    if requested is None:
        if not policy.allow_permanent:
            raise InvalidInput(gettext("Links here must expire within %(max_days)s days; permanent links are not allowed by policy.") % {"max_days": policy.max_days}, code="expiry_required", detail={"max_days": policy.max_days})
        return None
    if requested <= now:
        raise InvalidInput(gettext("expires_at is in the past; choose a later date."), code="invalid_expires_at")
    if requested > now + timedelta(days=policy.max_days):
        raise InvalidInput(gettext("Links here expire within %(max_days)s days at most; choose an earlier date.") % {"max_days": policy.max_days},
                           code="expiry_too_far", detail={"max_days": policy.max_days})
    return requested


def check_link_password(password: str) -> None:
    """Refuse, with every reason, a password that breaks policy: never drop it silently."""
    validators = password_validation.get_password_validators([
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
         "OPTIONS": {"min_length": settings.SHARE_PASSWORD_MIN_LENGTH}},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    ])
    if len(password) > 256:
        raise InvalidInput(gettext("The link password is longer than 256 characters."), code="invalid_password")
    try:
        password_validation.validate_password(password, password_validators=validators)
    except ValidationError as exc:
        raise InvalidInput(gettext("The link password was refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}, code="weak_password",
                           detail={"reasons": exc.messages}) from None
