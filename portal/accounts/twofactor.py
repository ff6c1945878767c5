"""Two-factor sign-in (TOTP, django-otp): who must use it, and the steps of
enrolling an authenticator. Writes go through django-otp's own models."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit.services import record


def required_for(user) -> bool:
    """Whether the administrator's PORTAL_REQUIRE_2FA asks this user for a second factor."""
    policy = settings.REQUIRE_2FA
    return policy == "all" or (policy == "staff" and (user.is_staff or user.is_superuser))


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def owes_second_factor(user) -> bool:
    """Signed in, but without a proven second factor that they need: either
    the policy asks for one, or they have an authenticator (then the session
    must have used it)."""
    if user.is_verified():
        return False
    return required_for(user) or user_has_device(user, confirmed=True)


def pending_device(user) -> TOTPDevice:
    """The unconfirmed authenticator being enrolled (made on first ask)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG (generated here, no user text in it but the username, escaped by qrcode)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def secret_text(device: TOTPDevice) -> str:
    """The base32 secret, in groups of four, for typing into an app by hand."""
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@transaction.atomic
def device_confirm(*, user, device: TOTPDevice, code: str) -> bool:
    """Confirms the pending authenticator when ``code`` is right; removes any older one."""
    if not device.verify_token(code.strip().replace(" ", "")):
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    record(action="auth.two_factor_enabled", actor=user, target=user)
    return True


@transaction.atomic
def devices_remove(*, user) -> None:
    """Turns two-factor sign-in off for ``user`` (the views refuse it when the policy requires it)."""
    TOTPDevice.objects.filter(user=user).delete()
    record(action="auth.two_factor_disabled", actor=user, target=user)
