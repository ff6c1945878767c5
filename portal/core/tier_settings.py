"""``PORTAL_TIERS``: the storage tiers colder than the hot store, read once by
settings.py. Pure parsing, so settings can import it before Django is set up.

The value is a JSON object, one entry per tier (docs/tiers.md)::

    {"cold": {"class": "cold", "backend": "s3", "bucket": "coffer-cold",
              "storage_class": "STANDARD_IA", "secret_key_env": "COLD_S3_SECRET"}}
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

CLASSES = ("warm", "cold", "archive", "deep_archive")
# Packing pays where objects are dear and reads are rare; a restore step is what archive classes cost.
_PACKED_BY_DEFAULT = {"cold", "archive", "deep_archive"}
_RESTORE_MINUTES_BY_DEFAULT = {"archive": 240, "deep_archive": 720}
# Where the portal keeps its own objects in the hot bucket (files, backups, audit heads and exports, previews).
_PORTAL_PREFIXES = ("blobs/", "backups/", "audit/", "derived/")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_KEYS = {"class", "backend", "root", "endpoint", "bucket", "region", "access_key", "secret_key", "secret_key_env",
         "addressing_style", "storage_class", "prefix", "pack", "restore_minutes"}


def _fail(message: str):
    raise ImproperlyConfigured(f"PORTAL_TIERS: {message}")


def _tier(name: str, raw) -> dict:
    if not isinstance(raw, dict):
        _fail(f"tier {name!r} must be a JSON object.")
    if unknown := set(raw) - _KEYS:
        _fail(f"tier {name!r} has unknown settings {sorted(unknown)}; the settings are {sorted(_KEYS)}.")
    tier = dict(raw)
    if tier.get("class") not in CLASSES:
        _fail(f"tier {name!r} needs a class, one of {', '.join(CLASSES)}.")
    if tier.setdefault("backend", "s3") not in {"s3", "local"}:
        _fail(f"tier {name!r}: backend is 's3' or 'local'.")
    if tier["backend"] == "local":
        if not tier.get("root"):
            _fail(f"tier {name!r}: a local tier needs a root folder.")
        tier["root"] = Path(tier["root"]).resolve()
    if env := tier.pop("secret_key_env", ""):
        if env not in os.environ:
            _fail(f"tier {name!r}: the environment variable {env} (its secret key) is not set.")
        tier["secret_key"] = os.environ[env]
    tier.setdefault("prefix", f"tiers/{name}/")
    # The tier's orphan sweep deletes what under its prefix no tier row names: never the portal's own objects.
    if not tier["prefix"].endswith("/") or tier["prefix"].startswith(("/", *_PORTAL_PREFIXES)):
        _fail(f"tier {name!r}: prefix is not empty, ends with '/' and is not under {', '.join(_PORTAL_PREFIXES)} "
              "(the hot bucket's own objects).")
    tier.setdefault("pack", tier["class"] in _PACKED_BY_DEFAULT)
    tier.setdefault("restore_minutes", _RESTORE_MINUTES_BY_DEFAULT.get(tier["class"], 0))
    if not isinstance(tier["restore_minutes"], int) or tier["restore_minutes"] < 0:
        _fail(f"tier {name!r}: restore_minutes is a whole number of minutes, 0 or more.")
    return tier


def parse_tiers(raw: str, *, default: dict) -> dict[str, dict]:
    """The tiers by name, coldest last; ``default`` when ``raw`` is empty."""
    if not raw.strip():
        return {name: _tier(name, tier) for name, tier in default.items()}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        _fail(f"not valid JSON ({exc}).")
    if not isinstance(value, dict):
        _fail("a JSON object of tiers by name.")
    tiers = {}
    for name, tier in value.items():
        if name == "hot" or not _NAME.match(name):
            _fail(f"{name!r} is not a tier name (lowercase letters, digits, '-'; 'hot' is the main store).")
        tiers[name] = _tier(name, tier)
    prefixes = sorted(tier["prefix"] for tier in tiers.values())
    if any(later.startswith(earlier) for earlier, later in zip(prefixes, prefixes[1:])):
        _fail("two tiers' prefixes nest; each tier needs a prefix of its own (one tier's sweep would delete "
              "the other's objects).")
    return dict(sorted(tiers.items(), key=lambda item: CLASSES.index(item[1]["class"])))
