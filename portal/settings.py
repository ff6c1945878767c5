"""Coffer's one settings module.

Every knob comes from a ``PORTAL_*`` environment variable with a safe default.
With nothing set, Coffer runs embedded: SQLite and a local storage folder under
``./var/``, and Celery over a SQLite broker, so no other server is needed.
The README's "Configuration" section lists every variable.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.core.env import env_bool, env_int, env_list, env_secret, env_str
from portal.core.tier_settings import parse_tiers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", VAR_DIR / "secret_key")
# Encrypts secrets the portal keeps for others (device keys, 2FA seeds).
MASTER_KEY = env_secret("MASTER_KEY", VAR_DIR / "master_key")
if not DEBUG and not (SECRET_KEY and MASTER_KEY):
    raise ImproperlyConfigured(
        "PORTAL_SECRET_KEY and PORTAL_MASTER_KEY must be set when PORTAL_DEBUG is off "
        f"(or run `make run`, which writes them to {VAR_DIR} on first start)."
    )
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "insecure-debug-only-key-" + "x" * 40

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal.core",
    "portal.outbox",
    "portal.storage",
    "portal.accounts",
    "portal.people",
    "portal.spaces",
    "portal.files",
    "portal.locks",
    "portal.dav",
    "portal.shares",
    "portal.scanning",
    "portal.backups",
    "portal.audit",
    "portal.adminpanel",
    "portal.previews",
    "portal.imports",
    "portal.search",
    "portal.notify",
    "portal.collab",
    "portal.lifecycle",
    "portal.governance",
    "portal.api",
    "portal.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.people.oidc_session.SsoSessionMiddleware",
    "portal.web.middleware.TwoFactorMiddleware",
    "portal.web.l10n.TimeZoneMiddleware",
    "portal.web.middleware.PageSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.audit.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
    "portal.core.outage.OutageMiddleware",  # a view that needed Redis while it was down: 503, not 500
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.web.context.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'coffer.sqlite3'}")
# Persistent connections save ~10 ms a request on PostgreSQL; checked before reuse.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
                                              conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that does not answer fails a request in seconds (503, portal.core.outage), not at
    # gunicorn's timeout; after an outage the kept connection fails its health check and a new one is opened.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache -------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# Longer than any task runs and any countdown waits (a scan's last retry: 16 min), or such a task is handed
# out a second time while the first still holds it; Coffer's tasks are safe to run twice.
TASK_REDELIVERY_SECONDS = env_int("TASK_REDELIVERY_SECONDS", 30 * 60)
BEAT_LOCK_SECONDS = env_int("BEAT_LOCK_SECONDS", 60)
if TASK_REDELIVERY_SECONDS < 10 or BEAT_LOCK_SECONDS < 5:
    raise ImproperlyConfigured("PORTAL_TASK_REDELIVERY_SECONDS is 10 or more, PORTAL_BEAT_LOCK_SECONDS 5 or more.")
if REDIS_URL:
    # A Redis that stops answering fails a request in seconds (503, portal.core.outage), not at gunicorn's timeout.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5}}}
    CELERY_BROKER_URL = REDIS_URL
    # Publishing a follow-up (portal.outbox) gives up in seconds on a Redis host that drops packets.
    # A task stays unacknowledged in Redis while it runs (late acknowledgement): one whose worker died
    # (host lost, SIGKILL) is handed to another worker once it is TASK_REDELIVERY_SECONDS old, found by
    # a scan every 5 s. docs/deploy.md, "Workers and beat on several hosts".
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "visibility_timeout": TASK_REDELIVERY_SECONDS,
                                       "unacked_restore_interval": 5, "unacked_restore_throttle": 1}
    # Beat on every worker host, one active (celery-redbeat): the schedule and its last runs live in
    # Redis, the active beat holds a lock it renews at every tick (at least every BEAT_LOCK_SECONDS / 5),
    # and a standby takes over within BEAT_LOCK_SECONDS of the active one's death.
    CELERY_BEAT_SCHEDULER = "portal.beat.Scheduler"
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
    CELERY_REDBEAT_REDIS_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
    CELERY_REDBEAT_LOCK_TIMEOUT = BEAT_LOCK_SECONDS
    CELERY_BEAT_MAX_LOOP_INTERVAL = max(1, BEAT_LOCK_SECONDS // 5)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}
    CELERY_BROKER_URL = f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# A pool process that dies mid-task (out of memory, a crashing library) while its worker lives: the task
# runs again after 3 min, at most its max_retries times (not requeued for ever: one file that always crashes
# a reader cannot hold a worker). A whole worker lost: TASK_REDELIVERY_SECONDS above.
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "expire-uploads": {"task": "files.sweep_uploads", "schedule": 15 * 60},
    "purge-trash": {"task": "files.purge_expired_trash", "schedule": 60 * 60},
    "apply-version-retention": {"task": "files.apply_version_retention", "schedule": 6 * 60 * 60},
    "apply-retention-end": {"task": "governance.apply_retention_end", "schedule": 6 * 60 * 60},
    "collect-blobs": {"task": "files.collect_unused_blobs", "schedule": 60 * 60},
    "sweep-orphan-objects": {"task": "files.sweep_orphan_objects", "schedule": 6 * 60 * 60},
    "expire-locks": {"task": "locks.expire", "schedule": 5 * 60},
    "expire-share-links": {"task": "shares.expire", "schedule": 5 * 60},
    # Seal new audit events into the hash chain, keep and export heads; a
    # queued run older than one interval is dropped (the next one does its work).
    "seal-audit-chain": {"task": "audit.seal", "schedule": env_int("AUDIT_SEAL_SECONDS", 20),
                         "options": {"expires": env_int("AUDIT_SEAL_SECONDS", 20)}},
    "purge-audit-events": {"task": "audit.purge_expired", "schedule": 6 * 60 * 60},
    "backup-retention": {"task": "backups.apply_retention", "schedule": 60 * 60},
    "backup-gc": {"task": "backups.collect_garbage", "schedule": 24 * 60 * 60},
    "backup-verify": {"task": "backups.verify", "schedule": 7 * 24 * 60 * 60},
    # Notifications: stale devices, e-mail digests (each user at DIGEST_HOUR in their own zone), webhook retries.
    "notify-stale-backups": {"task": "notify.stale_backups", "schedule": 60 * 60},
    "notify-digests": {"task": "notify.send_digests", "schedule": 15 * 60},
    "notify-retry-webhooks": {"task": "notify.retry_deliveries", "schedule": 60},
    # The day's storage total, for the admin console's "storage over time" chart.
    "snapshot-storage": {"task": "adminpanel.snapshot_storage", "schedule": 60 * 60},
    # Co-editing: write due versions of open sessions, close sessions whose server died.
    "coedit-sweep": {"task": "collab.sweep", "schedule": 60, "options": {"expires": 60}},
    "wopi-tokens-expire": {"task": "collab.wopi_tokens_expire", "schedule": 60 * 60},
    # Imports: resume runs whose worker died (heartbeat stopped), start periodic jobs that are due.
    "imports-tick": {"task": "imports.tick", "schedule": 60, "options": {"expires": 60}},
    # Storage lifecycle: move idle blobs to colder tiers (packing small ones), compact containers,
    # finish restores, delete superseded copies after their grace period.
    "tier-blobs": {"task": "lifecycle.tier", "schedule": 60 * 60, "options": {"expires": 60 * 60}},
    "compact-containers": {"task": "lifecycle.compact", "schedule": 6 * 60 * 60},
    "lifecycle-sweep": {"task": "lifecycle.sweep", "schedule": 5 * 60, "options": {"expires": 5 * 60}},
    # Follow-ups the broker refused or lost (portal.outbox), and versions still unhashed or unscanned.
    "outbox-relay": {"task": "outbox.relay", "schedule": 30, "options": {"expires": 30}},
    "outbox-sweep": {"task": "outbox.sweep", "schedule": 5 * 60, "options": {"expires": 5 * 60}},
}
# A follow-up the broker took but that has not run after this long is published again.
OUTBOX_REDELIVER_MINUTES = env_int("OUTBOX_REDELIVER_MINUTES", 10)
# A version still missing its SHA-256 or scan verdict after this long gets its tasks queued again.
OUTBOX_SWEEP_MINUTES = env_int("OUTBOX_SWEEP_MINUTES", 10)
# --- Notifications and webhooks ------------------------------------------------
BACKUP_STALE_DAYS = env_int("BACKUP_STALE_DAYS", 7)
DIGEST_HOUR = env_int("DIGEST_HOUR", 8)  # local hour of the daily e-mail digest
# Webhook URLs on private, loopback or link-local addresses are refused unless this is set (SSRF).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 30)  # first back-off; doubles each attempt
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)

# --- Object storage ---------------------------------------------------------
STORAGE_BACKEND = env_str("STORAGE", "local")
if STORAGE_BACKEND not in {"local", "s3"}:
    raise ImproperlyConfigured(f"PORTAL_STORAGE={STORAGE_BACKEND!r}: use 'local' or 's3'.")
STORAGE_ROOT = Path(env_str("STORAGE_ROOT", str(VAR_DIR / "storage"))).resolve()
S3_ENDPOINT = env_str("S3_ENDPOINT", "")
S3_BUCKET = env_str("S3_BUCKET", "coffer")
S3_REGION = env_str("S3_REGION", "us-east-1")
S3_ACCESS_KEY = env_str("S3_ACCESS_KEY", "")
S3_SECRET_KEY = env_str("S3_SECRET_KEY", "")
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")
# Presigned (and locally signed) URLs never live longer than this.
PRESIGN_SECONDS = min(env_int("PRESIGN_SECONDS", 300), 300)
if STORAGE_BACKEND == "s3" and not (S3_ENDPOINT or S3_ACCESS_KEY):
    raise ImproperlyConfigured("PORTAL_STORAGE=s3 needs PORTAL_S3_ENDPOINT (or AWS) and PORTAL_S3_ACCESS_KEY.")

# --- Accounts, sign-in, tokens ---------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "portal.people.oidc.OIDCBackend",  # single sign-on; answers only the provider's callback
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
# Lock out a username from one address, so one attacker cannot lock a user out everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.accounts.signin.lockout_response"
AXES_WHITELIST_CALLABLE = "portal.people.oidc.axes_exempt"  # the SSO callback has no username to count
# The client's address as the audit log sees it (X-Forwarded-For only PORTAL_TRUSTED_PROXY_COUNT
# proxies deep): behind a proxy, REMOTE_ADDR is the proxy's, and a lockout would hit everyone.
AXES_CLIENT_IP_CALLABLE = "portal.audit.middleware.client_ip"
AXES_VERBOSE = False
# Two-factor sign-in (TOTP): "off" (users may turn it on), "staff" (required of
# staff and administrators) or "all" (required of everyone). Users who must and
# have no authenticator yet are sent to enroll one right after signing in.
REQUIRE_2FA = env_str("REQUIRE_2FA", "off")
if REQUIRE_2FA not in {"off", "staff", "all"}:
    raise ImproperlyConfigured(f"PORTAL_REQUIRE_2FA={REQUIRE_2FA!r}: use 'off', 'staff' or 'all'.")
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "Coffer")
TOKEN_DEFAULT_DAYS = env_int("TOKEN_DEFAULT_DAYS", 90)
TOKEN_MAX_DAYS = env_int("TOKEN_MAX_DAYS", 365)
# Set-password links (forgot password, an administrator's reset, user_create) work this long, once.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_HOURS", 24) * 3600
# "Forgot password?" mails per client address and per e-mail address per hour; past it, no mail.
PASSWORD_RESETS_PER_HOUR = env_int("PASSWORD_RESETS_PER_HOUR", 5)
INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
# Number of reverse proxies in front of the portal whose X-Forwarded-For is trusted.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Single sign-on: OpenID Connect (docs/sso.md) ---------------------------------
# On when the client id and the provider's endpoints are set; local accounts keep working beside it.
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET", VAR_DIR / "oidc_client_secret")
OIDC_OP_ISSUER = env_str("OIDC_ISSUER", "")  # when set, ID tokens must carry exactly this "iss"
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_ENDPOINT", "")
OIDC_OP_END_SESSION_ENDPOINT = env_str("OIDC_END_SESSION_ENDPOINT", "")  # blank: sign out of Coffer only
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
_OIDC_MISSING = [f"PORTAL_OIDC_{n}" for n, v in [("CLIENT_SECRET", OIDC_RP_CLIENT_SECRET),
    ("AUTHORIZATION_ENDPOINT", OIDC_OP_AUTHORIZATION_ENDPOINT), ("TOKEN_ENDPOINT", OIDC_OP_TOKEN_ENDPOINT),
    ("USERINFO_ENDPOINT", OIDC_OP_USER_ENDPOINT), ("JWKS_ENDPOINT", OIDC_OP_JWKS_ENDPOINT)] if not v]
if OIDC_ENABLED and _OIDC_MISSING:
    raise ImproperlyConfigured(f"PORTAL_OIDC_CLIENT_ID is set but {', '.join(_OIDC_MISSING)} not (docs/sso.md).")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "")  # the button: "Sign in with <name>" (blank: "with SSO")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")  # blank: groups are not mirrored
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USERS", True)
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of sign-out at the provider
OIDC_TIMEOUT = 15
# The session asks the provider again (prompt=none) this often: a user disabled there loses access.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("OIDC_RECHECK_MINUTES", 15) * 60
OIDC_POST_LOGOUT_REDIRECT_URL = env_str("OIDC_POST_LOGOUT_REDIRECT_URL", "")  # blank: this portal's sign-in page
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"

# --- LDAP / Active Directory (docs/ldap.md) -------------------------------------
# Sign-in through the directory and a scheduled full sync, both on when PORTAL_LDAP_URI is set.
# Blank values take the kind's defaults (portal/people/directory/config.py).
LDAP_URI = env_str("LDAP_URI", "")
LDAP_KIND = env_str("LDAP_KIND", "openldap")  # or "activedirectory"
LDAP_BIND_DN = env_str("LDAP_BIND_DN", "")
LDAP_BIND_PASSWORD = env_secret("LDAP_BIND_PASSWORD", VAR_DIR / "ldap_bind_password")
LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
LDAP_USER_BASE = env_str("LDAP_USER_BASE", "")
LDAP_USER_FILTER = env_str("LDAP_USER_FILTER", "")
LDAP_LOGIN_ATTR = env_str("LDAP_LOGIN_ATTR", "")
LDAP_UUID_ATTR = env_str("LDAP_UUID_ATTR", "")
LDAP_ATTR_EMAIL = env_str("LDAP_ATTR_EMAIL", "mail")
LDAP_ATTR_FIRST_NAME = env_str("LDAP_ATTR_FIRST_NAME", "givenName")
LDAP_ATTR_LAST_NAME = env_str("LDAP_ATTR_LAST_NAME", "sn")
LDAP_ATTR_DISPLAY_NAME = env_str("LDAP_ATTR_DISPLAY_NAME", "displayName")
LDAP_GROUP_BASE = env_str("LDAP_GROUP_BASE", "")  # blank: groups are not mirrored
LDAP_GROUP_FILTER = env_str("LDAP_GROUP_FILTER", "")
LDAP_GROUP_TYPE = env_str("LDAP_GROUP_TYPE", "")  # groupOfNames or activeDirectory
LDAP_GROUP_NAME_ATTR = env_str("LDAP_GROUP_NAME_ATTR", "cn")
LDAP_NESTED_GROUPS = env_bool("LDAP_NESTED_GROUPS", True)
LDAP_REQUIRE_GROUP = env_str("LDAP_REQUIRE_GROUP", "")  # a group DN: only its members (nested too) get in
LDAP_DISABLED_FILTER = env_str("LDAP_DISABLED_FILTER", "")  # e.g. (pwdAccountLockedTime=*)
LDAP_ADOPT_LOCAL_USERS = env_bool("LDAP_ADOPT_LOCAL_USERS", False)
LDAP_SYNC_MINUTES = env_int("LDAP_SYNC_MINUTES", 60)  # 0: no scheduled sync (manage.py ldap_sync still works)
LDAP_PAGE_SIZE = env_int("LDAP_PAGE_SIZE", 500)
LDAP_TIMEOUT = env_int("LDAP_TIMEOUT_SECONDS", 10)
if LDAP_URI:
    if not LDAP_USER_BASE:
        raise ImproperlyConfigured("PORTAL_LDAP_URI is set but PORTAL_LDAP_USER_BASE is not (docs/ldap.md).")
    AUTHENTICATION_BACKENDS.append("portal.people.directory.backend.DirectoryBackend")
    if LDAP_SYNC_MINUTES > 0:
        CELERY_BEAT_SCHEDULE["ldap-sync"] = {"task": "people.ldap_sync", "schedule": LDAP_SYNC_MINUTES * 60,
                                             "options": {"expires": LDAP_SYNC_MINUTES * 60}}

# --- Spaces ----------------------------------------------------------------
DEFAULT_SPACE_QUOTA = env_int("DEFAULT_SPACE_QUOTA", 10 * 1024**3)
DEFAULT_PERSONAL_QUOTA = env_int("DEFAULT_PERSONAL_QUOTA", 5 * 1024**3)
# Team spaces one user may create (administrators: any number); each comes with DEFAULT_SPACE_QUOTA.
MAX_SPACES_PER_USER = env_int("MAX_SPACES_PER_USER", 20)

# --- Files ---------------------------------------------------------------------
MAX_FILE_SIZE = env_int("MAX_FILE_SIZE", 100 * 1024**3)
UPLOAD_PART_SIZE = env_int("UPLOAD_PART_SIZE", 16 * 1024**2)
UPLOAD_SESSION_HOURS = env_int("UPLOAD_SESSION_HOURS", 24)
TRASH_DAYS = env_int("TRASH_DAYS", 30)
KEEP_VERSIONS = env_int("KEEP_VERSIONS", 100)
KEEP_VERSION_DAYS = env_int("KEEP_VERSION_DAYS", 0)  # 0: keep regardless of age
ORPHAN_GRACE_HOURS = env_int("ORPHAN_GRACE_HOURS", 24)
# The scrub reads stored files back against their SHA-256: each run checks at most this many blobs and
# bytes, going on where the last run stopped (a full pass over many runs); 0 hours: no scheduled scrub.
SCRUB_BATCH = env_int("SCRUB_BATCH", 10000)
SCRUB_BYTES = env_int("SCRUB_BYTES", 10 * 1024**3)
SCRUB_HOURS = env_int("SCRUB_HOURS", 1)
if SCRUB_BATCH < 1 or SCRUB_BYTES < 1 or SCRUB_HOURS < 0:
    raise ImproperlyConfigured("PORTAL_SCRUB_BATCH and PORTAL_SCRUB_BYTES are 1 or more, PORTAL_SCRUB_HOURS 0 or more.")
if SCRUB_HOURS:
    CELERY_BEAT_SCHEDULE["scrub-blobs"] = {"task": "files.scrub", "schedule": SCRUB_HOURS * 60 * 60,
                                           "options": {"expires": SCRUB_HOURS * 60 * 60}}

# --- Storage tiers and cold packing (docs/tiers.md) -------------------------------
# Tiers colder than the main store (JSON, see portal/core/tier_settings.py). Embedded default: one
# cold tier in a local folder beside the main one; with S3, no tiers until configured.
TIERS = parse_tiers(env_str("TIERS", ""), default={} if STORAGE_BACKEND == "s3" else {
    "cold": {"class": "cold", "backend": "local", "root": str(VAR_DIR / "storage-cold")}})
# The deployment's policy (spaces may override it): which tier, and after how many days without a read
# a current version, an older version and a file in the trash move there. 0 days: never.
TIER_TARGET = env_str("TIER_TARGET", next(iter(TIERS), ""))
TIER_CURRENT_DAYS = env_int("TIER_CURRENT_DAYS", 180)
TIER_OLD_DAYS = env_int("TIER_OLD_DAYS", 60)
TIER_TRASH_DAYS = env_int("TIER_TRASH_DAYS", 7)
TIER_PROMOTE_ON_READ = env_bool("TIER_PROMOTE_ON_READ", True)  # a read brings a cold blob back to the hot store
TIER_RUN_BLOBS = env_int("TIER_RUN_BLOBS", 200000)  # one beat run moves at most this many blobs ...
TIER_RUN_BYTES = env_int("TIER_RUN_BYTES", 20 * 1024**3)  # ... and this many bytes; the next run goes on
# A moved blob's old copy is deleted this long after the switch (a download may have been handed its URL).
TIER_GRACE_MINUTES = env_int("TIER_GRACE_MINUTES", 60)
PACK_MAX_BLOB = env_int("PACK_MAX_BLOB", 1024**2)  # blobs up to this size are packed in a packing tier
PACK_TARGET_BYTES = env_int("PACK_TARGET_BYTES", 128 * 1024**2)  # a container's size
PACK_MIN_LIVE_PERCENT = env_int("PACK_MIN_LIVE_PERCENT", 60)  # compaction rewrites containers below this
RESTORE_KEEP_DAYS = env_int("RESTORE_KEEP_DAYS", 7)  # a restored archive blob stays readable this long

# --- Imports (docs/imports.md) ----------------------------------------------------
# Folders on this machine (local disks, NAS mounts) an administrator may import from; nothing else.
IMPORT_ROOTS = env_list("IMPORT_ROOTS", [])
IMPORT_STALE_SECONDS = env_int("IMPORT_STALE_SECONDS", 90)  # a run without a heartbeat this long is resumed
IMPORT_MAX_CONCURRENCY = env_int("IMPORT_MAX_CONCURRENCY", 16)  # the most parallel transfers a job may ask
# Transfer processes per run: copying small files is CPU-bound in the S3 clients (1: threads in the run's process).
IMPORT_PROCESSES = env_int("IMPORT_PROCESSES", min(os.cpu_count() or 1, 4))

# --- Locks ---------------------------------------------------------------------
# Manual locks (portal/API) last what the client asks, at most this; renewable.
LOCK_MANUAL_MAX_SECONDS = env_int("LOCK_MANUAL_MAX_HOURS", 24) * 3600
# Editor locks (WebDAV) follow the client's Timeout header, refreshed by the
# client; without one they get the default, and never more than the maximum,
# so a crashed editor's lock goes away within the hour.
LOCK_EDITOR_DEFAULT_SECONDS = env_int("LOCK_EDITOR_DEFAULT_SECONDS", 30 * 60)
LOCK_EDITOR_MAX_SECONDS = env_int("LOCK_EDITOR_MAX_SECONDS", 60 * 60)

# --- Co-editing (docs/coedit.md) ----------------------------------------------------
# The websocket server (portal/collab/server) runs beside the web server: `make run` starts it
# on COEDIT_BIND. Pages connect to COEDIT_URL: a full ws(s):// URL or a path ("/coedit/ws",
# when a reverse proxy routes it); empty means the page's host on COEDIT_BIND's port.
COEDIT_BIND = env_str("COEDIT_BIND", "127.0.0.1:8001")
COEDIT_URL = env_str("COEDIT_URL", "")
COEDIT_SAVE_MINUTES = env_int("COEDIT_SAVE_MINUTES", 5)          # a version at least this often while editing
COEDIT_CLOSE_GRACE_SECONDS = env_int("COEDIT_CLOSE_GRACE_SECONDS", 3)  # a reload does not end the session
COEDIT_MAX_BYTES = env_int("COEDIT_MAX_BYTES", 2 * 1024 * 1024)   # larger text files open read-only in the viewer
COEDIT_TICKET_HOURS = env_int("COEDIT_TICKET_HOURS", 12)
COEDIT_RECHECK_SECONDS = env_int("COEDIT_RECHECK_SECONDS", 10)    # access re-checked this often per connection
COEDIT_HEARTBEAT_SECONDS = env_int("COEDIT_HEARTBEAT_SECONDS", 20)
COEDIT_LOCK_SECONDS = env_int("COEDIT_LOCK_SECONDS", 120)         # a dead server's co-editing locks go this soon
COEDIT_MAX_CONNECTIONS = env_int("COEDIT_MAX_CONNECTIONS", 8)      # open windows per person (or link) and document

# --- Office documents (WOPI, docs/wopi.md) -------------------------------------------
# The office server's discovery XML (Collabora Online: https://office.example.com/hosting/discovery;
# OnlyOffice Docs: https://docs.example.com/hosting/discovery). Empty: no "Open in office".
WOPI_DISCOVERY_URL = env_str("WOPI_DISCOVERY_URL", "")
# The base URL the office server reaches this portal at (WOPISrc); default PUBLIC_URL.
WOPI_HOST_URL = env_str("WOPI_HOST_URL", "").rstrip("/") or PUBLIC_URL
WOPI_DISCOVERY_TIMEOUT = env_int("WOPI_DISCOVERY_TIMEOUT", 5)           # seconds per fetch
WOPI_DISCOVERY_CACHE_SECONDS = env_int("WOPI_DISCOVERY_CACHE_SECONDS", 3600)
WOPI_TOKEN_TTL_SECONDS = env_int("WOPI_TOKEN_TTL_SECONDS", 10 * 3600)   # one editing session's access token
WOPI_LOCK_SECONDS = 30 * 60                                             # fixed by the WOPI protocol
# Refuse requests without valid proof keys when discovery publishes them (turn off only to debug).
WOPI_PROOF_REQUIRED = env_bool("WOPI_PROOF_REQUIRED", True)

# --- Share links ---------------------------------------------------------------
# Expiry: links get the default when none is asked for, never more than the
# maximum; spaces can tighten both. Permanent links only where allowed.
SHARE_DEFAULT_DAYS = env_int("SHARE_DEFAULT_DAYS", 7)
SHARE_MAX_DAYS = env_int("SHARE_MAX_DAYS", 90)
SHARE_ALLOW_PERMANENT = env_bool("SHARE_ALLOW_PERMANENT", False)
SHARE_REQUIRE_PASSWORD = env_bool("SHARE_REQUIRE_PASSWORD", False)
SHARE_PASSWORD_MIN_LENGTH = env_int("SHARE_PASSWORD_MIN_LENGTH", 8)
# Guessing: per (link, address) at most this many wrong answers per window
# (with growing delays before), and per link across all addresses per hour.
SHARE_FAILURES_PER_ADDRESS = env_int("SHARE_FAILURES_PER_ADDRESS", 10)
SHARE_FAILURE_WINDOW_MINUTES = env_int("SHARE_FAILURE_WINDOW_MINUTES", 30)
SHARE_FAILURES_PER_LINK_HOUR = env_int("SHARE_FAILURES_PER_LINK_HOUR", 100)
SHARE_CODE_MINUTES = env_int("SHARE_CODE_MINUTES", 15)
SHARE_CODE_SENDS_PER_ADDRESS = env_int("SHARE_CODE_SENDS_PER_ADDRESS", 5)
# Previews are rendered (never the original bytes) from files up to this size.
SHARE_PREVIEW_MAX_BYTES = env_int("SHARE_PREVIEW_MAX_BYTES", 64 * 1024 * 1024)
# Decoded pixels an image may have to be previewed: a small compressed file can
# unpack to gigabytes (a 20 KB PNG of 13000x13000), so the header is checked first.
PREVIEW_MAX_PIXELS = env_int("PREVIEW_MAX_PIXELS", 40_000_000)
# The file viewer: Office documents become PDF with LibreOffice headless (`soffice`), one
# conversion at most this many seconds and this much address space; text shows its first bytes.
OFFICE_TIMEOUT = env_int("OFFICE_TIMEOUT", 60)
OFFICE_MEMORY_MB = env_int("OFFICE_MEMORY_MB", 4096)
VIEWER_TEXT_BYTES = env_int("VIEWER_TEXT_BYTES", 1024 * 1024)

# --- Content scanning (README "Content scanning") -------------------------------
# clamd: a unix socket path, or a host and port; neither set: no virus scanning.
CLAMD_SOCKET = env_str("CLAMD_SOCKET", "")
CLAMD_HOST = env_str("CLAMD_HOST", "")
CLAMD_PORT = env_int("CLAMD_PORT", 3310)
CLAMD_TIMEOUT = env_int("CLAMD_TIMEOUT", 60)
# When a scanner cannot answer: "open" serves members' uploads meanwhile,
# "closed" holds them. Uploads through share links are always held.
SCAN_FAIL_MODE = env_str("SCAN_FAIL_MODE", "open").lower()
if SCAN_FAIL_MODE not in ("open", "closed"):
    raise ImproperlyConfigured("PORTAL_SCAN_FAIL_MODE is 'open' or 'closed'.")
# Types Windows runs on a double click and that teams have no reason to pass
# around; installers and scripts (exe, msi, bat, ps1, js) are left to clamd.
SCAN_BLOCKED_EXTENSIONS = env_list("SCAN_BLOCKED_EXTENSIONS", [
    "scr", "pif", "com", "cpl", "hta", "vbs", "vbe", "jse", "wsf", "wsh", "msc", "lnk"])
SCAN_SHA256_BLOCKLIST = env_list("SCAN_SHA256_BLOCKLIST", [])
# Sensitive-content review (docs/governance.md): the moderation adapter labelling
# clean versions' text, as a dotted path to a portal.governance.services_sensitive.ModerationAdapter.
MODERATION_ADAPTER = env_str("MODERATION_ADAPTER", "portal.governance.services_sensitive.DetectorAdapter")

# --- Backups (docs/backup-protocol.md) -----------------------------------------
BACKUP_PACK_SIZE = env_int("BACKUP_PACK_SIZE", 16 * 1024**2)
# A device may announce a pack of at most this many bytes.
BACKUP_PACK_MAX_SIZE = env_int("BACKUP_PACK_MAX_SIZE", 128 * 1024**2)
# GC leaves packs younger than this (or claimed by a device this recently) alone.
BACKUP_GC_GRACE_HOURS = env_int("BACKUP_GC_GRACE_HOURS", 24)
# A pack with less than this share of its bytes still used is rewritten.
BACKUP_REPACK_BELOW = 0.5
BACKUP_ENROLLMENT_HOURS = env_int("BACKUP_ENROLLMENT_HOURS", 24)
# A device counts as "backing up" while it uploaded a pack for a snapshot not yet
# committed, and was heard from, within this many minutes.
BACKUP_ACTIVE_MINUTES = env_int("BACKUP_ACTIVE_MINUTES", 15)
# The agent wheel served at /agent/, built from this checkout by `make` (portal/backups/agent_dist.py).
AGENT_DIST_DIR = Path(env_str("AGENT_DIST_DIR", str(BASE_DIR / "var" / "agent"))).resolve()
# What one browse, download or zip request of a snapshot may walk: entries
# visited, folder depth, bytes sent (trees are shared, so a few trees can
# describe billions of files). Past them: 413 restore_limit_*.
# Files and folders one folder zip may hold (the file tree's, streamed; past it 413 zip_too_large).
ZIP_MAX_ENTRIES = env_int("ZIP_MAX_ENTRIES", 200_000)
BACKUP_RESTORE_MAX_ENTRIES = env_int("BACKUP_RESTORE_MAX_ENTRIES", 200_000)
BACKUP_RESTORE_MAX_DEPTH = env_int("BACKUP_RESTORE_MAX_DEPTH", 256)
BACKUP_RESTORE_MAX_BYTES = env_int("BACKUP_RESTORE_MAX_BYTES", 64 * 1024**3)
# Blobs decrypted and checked against their ids per verify run.
BACKUP_VERIFY_SAMPLE = env_int("BACKUP_VERIFY_SAMPLE", 200)
# The deployment default, until an administrator sets one (PUT /api/v1/backup/retention).
BACKUP_DEFAULT_RETENTION = {
    "keep_last": env_int("BACKUP_KEEP_LAST", 10), "keep_hourly": env_int("BACKUP_KEEP_HOURLY", 24),
    "keep_daily": env_int("BACKUP_KEEP_DAILY", 14), "keep_weekly": env_int("BACKUP_KEEP_WEEKLY", 8),
    "keep_monthly": env_int("BACKUP_KEEP_MONTHLY", 24),
}

# --- Audit log -----------------------------------------------------------------
# Events are sealed into the hash chain by the "audit.seal" beat task; one
# still unsealed after AUDIT_SEAL_GRACE_SECONDS makes audit_verify fail.
AUDIT_SEAL_GRACE_SECONDS = env_int("AUDIT_SEAL_GRACE_SECONDS", 60)
# A chain head is kept, exported to the object store and logged at most this often.
AUDIT_CHECKPOINT_SECONDS = env_int("AUDIT_CHECKPOINT_SECONDS", 60)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365)

# --- Ransomware detection (docs/ransomware.md) -------------------------------------
# What a suspected attack triggers: "off" (no detection), "alert" (audit event and notifications only),
# "suspend" (also revoke the actor's tokens, app passwords and sessions, or the share link), "disable"
# (also disable the account, as user_disable does).
RANSOMWARE_RESPONSE = env_str("RANSOMWARE_RESPONSE", "suspend").strip().lower()
if RANSOMWARE_RESPONSE not in ("off", "alert", "suspend", "disable"):
    raise ImproperlyConfigured("PORTAL_RANSOMWARE_RESPONSE is off, alert, suspend or disable.")
RANSOMWARE_WINDOW_SECONDS = env_int("RANSOMWARE_WINDOW_SECONDS", 600)  # the sliding window per actor
RANSOMWARE_SUSPICIOUS = env_int("RANSOMWARE_SUSPICIOUS", 10)  # suspicious writes in the window flag the actor
RANSOMWARE_CHANGES = env_int("RANSOMWARE_CHANGES", 300)  # rewrites, renames, moves, deletions in the window
# Download events commit without waiting for PostgreSQL's WAL flush unless this is on.
AUDIT_DURABLE_READS = env_bool("AUDIT_DURABLE_READS", False)
# Admin exports of more rows than this are written by the "audit.export" task
# to the object store (a download link appears in the admin) instead of streamed.
AUDIT_EXPORT_SYNC_MAX = env_int("AUDIT_EXPORT_SYNC_MAX", 100_000)
# The secret the chain's HMAC key is derived from (default: MASTER_KEY). Set
# it to the old master key to keep old events verifiable after a rotation.
AUDIT_CHAIN_KEY = env_secret("AUDIT_CHAIN_KEY", VAR_DIR / "audit_chain_key")

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.BearerTokenAuthentication",
        "portal.accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.core.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.CofferAutoSchema",  # every operation documents its errors
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coffer API",
    "DESCRIPTION": "Team spaces, files, share links, locks and backups. Errors are "
                   '`{"code", "message", "detail"}`. Authenticate with `Authorization: Bearer <token>`.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets are both called "kind": a node's keeps its old component name.
    # <id:...> path segments (portal.core.ids): a non-negative integer that fits a bigint.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}},
    "ENUM_NAME_OVERRIDES": {"KindEnum": ["folder", "file"],
                            "HoldKindEnum": "portal.governance.models.HoldKind"},
}

# --- Security ------------------------------------------------------------------
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12) * 3600
SECURE_SSL_REDIRECT = HTTPS and env_bool("SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading is a promise for the whole domain and its subdomains that takes months to withdraw: opt in.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("HSTS_PRELOAD", False)
if HTTPS and not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # check --deploy's "preload is off": off on purpose
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Whether a request came over TLS: only a trusted reverse proxy can say so, in X-Forwarded-Proto, which it
# must set (overwrite, never append). Without one the header is ignored, and gunicorn trusts no forwarded
# header either (--forwarded-allow-ips= in the Procfile and deploy/systemd/), so this is the only switch.
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # 2.5 MiB of form or JSON body

# --- Internationalisation ----------------------------------------------------
LANGUAGE_CODE = "en"
# The browser's language (Accept-Language) unless the user picks one in the header.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Email -------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("EMAIL_FROM", "coffer@localhost")

# Every line goes through portal.core.logs.redact (link and storage tokens,
# URL signatures); Django's own loggers too, instead of their default handlers.
# One line format for Django, Celery (portal/celery.py) and gunicorn (portal/gunicorn_log.py):
# a UTC timestamp, level, process and logger, or one JSON object per line.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"PORTAL_LOG_FORMAT={LOG_FORMAT!r}: use 'text' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "portal.core.logs.RedactingFilter"}},
    "formatters": {"portal": {"()": "portal.core.logs.formatter", "kind": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "portal"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"},
                "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
                "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
