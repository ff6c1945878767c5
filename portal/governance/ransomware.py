"""Ransomware detection over the audit event stream (docs/ransomware.md).

Cheap on the request path: once an event commits, a receiver classifies it
from its action, labels and details (no query) and adds it to two sliding
windows in Redis per **actor** — a user (whatever credential: session, API
token, WebDAV app password) or a share link (uploads through it):

- ``changes``: rewrites (a new version of an existing file), renames, moves,
  deletions and purges;
- ``suspicious``: a new name with a known ransomware extension, a
  ransom-note name, and (found later by the hashing task, which reads every
  new blob anyway) a new version whose first 64 KiB look encrypted while the
  previous version's did not (or, for a new text file, while its type says
  text).

Each window is a sorted set (member ``event:space:kind``, score the time),
trimmed to PORTAL_RANSOMWARE_WINDOW_SECONDS and expiring with it. An actor
with PORTAL_RANSOMWARE_SUSPICIOUS suspicious writes or PORTAL_RANSOMWARE_CHANGES
changes in the window is flagged once per window; the Celery task
``governance.ransomware_respond`` then applies the policy
(portal.governance.services_ransomware). Nothing here writes the database.
Without Redis (PORTAL_REDIS_URL empty) or with PORTAL_RANSOMWARE_RESPONSE=off
there is no detection.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import redis
from django.conf import settings

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)

PREFIX = "coffer:ransomware:"
SAMPLE_BYTES = 64 * 1024  # the bytes of a new version whose entropy is measured
MIN_SAMPLE = 256          # fewer bytes say too little about randomness
JUMP = 1.0                # bits per byte the new version must gain over the previous one

# Extensions ransomware families give encrypted files (lower case, with the dot). Maintained list.
EXTENSIONS = frozenset({
    ".locked", ".lock", ".encrypted", ".enc", ".crypt", ".crypted", ".crypto", ".cryp1", ".crypz", ".cryptolocker",
    ".wncry", ".wncryt", ".wcry", ".wnry", ".lockbit", ".abcd", ".locky", ".zepto", ".odin", ".thor", ".aesir",
    ".osiris", ".cerber", ".cerber3", ".cry", ".crjoker", ".ryk", ".ryuk", ".conti", ".hive", ".blackcat",
    ".akira", ".royal", ".basta", ".phobos", ".eking", ".dharma", ".wallet", ".arena", ".java", ".stop", ".djvu",
    ".makop", ".medusa", ".revil", ".sodinokibi", ".maze", ".egregor", ".clop", ".cl0p", ".petya", ".gandcrab",
    ".krab", ".globeimposter", ".teslacrypt", ".ecc", ".ezz", ".exx", ".vvv", ".ccc", ".micro", ".xtbl",
    ".kraken", ".darkness", ".nochance", ".paycrypt", ".payms", ".pays", ".ransom", ".rdm", ".rrk", ".btc",
    ".kkk", ".fun", ".gws", ".coverton", ".enigma", ".legion", ".magic", ".kimcilware", ".lechiffre", ".encr",
    ".enciphered", ".encrypt", ".oops", ".pzdc", ".good", ".ha3", ".r5a", ".r4a", ".rekt", ".surprise",
    ".xyz", ".zzz", ".aaa", ".micro", ".cripted", ".crinf", ".cbf", ".ctbl", ".ctb2", ".lol!", ".omg!",
})
# Names ransom notes take (lower case). Exact names, and prefixes any extension may follow.
NOTE_NAMES = frozenset({
    "readme_for_decrypt.txt", "readme.hta", "decrypt_instructions.txt", "decrypt_instructions.html",
    "how_decrypt.txt", "help_decrypt.txt", "help_decrypt.html", "help_restore_files.txt",
    "restore_files.txt", "read_me_now.txt", "_readme.txt", "!readme!.txt", "@please_read_me@.txt",
    "@wanadecryptor@.exe", "!!!_read_me_!!!.txt", "recovery_key.txt", "restore-my-files.txt",
    "decryption_instructions.txt", "your_files_are_encrypted.txt", "readme_lock.txt",
})
NOTE_PREFIXES = ("how_to_decrypt", "how_to_restore", "how_to_recover", "how-to-decrypt", "how to decrypt",
                 "readme_restore", "readme_for_decrypt", "decrypt_", "_decrypt", "help_decrypt", "help_your_files",
                 "restore_files", "recover_files", "recovery_files", "your_files", "files_encrypted",
                 "!!!restore", "!!!decrypt", "readme_to_decrypt", "read_to_decrypt")
# Types whose bytes are text: a new file of these whose bytes look random is suspicious by itself.
TEXT_EXTENSIONS = frozenset({
    ".txt", ".csv", ".tsv", ".md", ".rst", ".log", ".json", ".xml", ".html", ".htm", ".css", ".js", ".ts", ".py",
    ".java", ".c", ".h", ".cpp", ".go", ".rs", ".sql", ".yaml", ".yml", ".ini", ".cfg", ".conf", ".tex", ".rtf",
    ".svg", ".sh", ".bat", ".ps1", ".srt", ".vcf", ".ics", ".eml",
})

CHANGE, SUSPICIOUS = "c", "s"
CODES = {"extension": "x", "note": "n", "entropy": "y"}  # the kind of a suspicious entry, in its member
WATCHED = frozenset({Action.FILE_UPLOADED, Action.FILE_RENAMED, Action.FILE_MOVED, Action.FILE_DELETED,
                     Action.FILE_PURGED})
# Events a system writer makes on someone's behalf: a restore to a point in time, an import.
_NOT_THE_ACTORS = ("restore", "import", "import_run")


# --- Names and bytes -------------------------------------------------------------

def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def is_ransom_extension(name: str) -> bool:
    return _extension(name) in EXTENSIONS


def is_ransom_note(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in NOTE_NAMES or lowered.startswith(NOTE_PREFIXES)


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (0 for nothing, 8 for uniform random bytes)."""
    if not data:
        return 0.0
    total = len(data)
    return -sum(count / total * math.log2(count / total) for count in Counter(data).values())


def random_floor(size: int) -> float:
    """The least entropy ``size`` random bytes show (a short sample cannot reach 8: its
    expected estimate is about 8 - 255 / (2 n ln 2)), with a margin."""
    size = min(size, SAMPLE_BYTES)
    return 8 - 255 / (2 * size * math.log(2)) - 0.35


def looks_random(data: bytes) -> bool:
    """Whether a sample reads as encrypted (or compressed) bytes."""
    return len(data) >= MIN_SAMPLE and entropy(data) >= random_floor(len(data))


# --- Events to window entries ------------------------------------------------------

@dataclass(frozen=True)
class Seen:
    actor: str        # "user:<id>" or "link:<id>"
    event_id: int
    space_id: int
    at: float         # unix time of the event
    change: bool
    suspicious: str   # "", "extension", "note"
    watch: str        # "", "rewrite" (entropy vs the previous version), "text" (a new text file)
    node_id: int = 0
    version: int = 0


def actor_key(event: AuditEvent) -> str:
    details = event.details if isinstance(event.details, dict) else {}
    if details.get("via_share"):
        return f"link:{details['via_share']}"
    return f"user:{event.actor_id}" if event.actor_id else ""


def _name(path: str) -> str:
    return (path or "").rstrip("/").rsplit("/", 1)[-1]


def classify(event: AuditEvent) -> Seen | None:
    """What the event adds to its actor's windows, or None (no query)."""
    if event.action not in WATCHED or event.outcome != Outcome.SUCCESS or not event.space_id:
        return None
    details = event.details if isinstance(event.details, dict) else {}
    if any(key in details for key in _NOT_THE_ACTORS):
        return None
    actor = actor_key(event)
    if not actor:
        return None
    name, change, suspicious, watch, version = _name(event.target_label), True, "", "", 0
    if event.action == Action.FILE_UPLOADED:
        version = details.get("version") if isinstance(details.get("version"), int) else 0
        change = version > 1
        watch = "rewrite" if change else ("text" if _extension(name) in TEXT_EXTENSIONS else "")
        suspicious = "note" if is_ransom_note(name) else ("extension" if is_ransom_extension(name) else "")
    elif event.action in (Action.FILE_RENAMED, Action.FILE_MOVED):
        before = _name(str(details.get("from") or ""))
        if is_ransom_extension(name) and not is_ransom_extension(before):
            suspicious = "extension"
        elif is_ransom_note(name) and not is_ransom_note(before):
            suspicious = "note"
    if not (change or suspicious or watch):
        return None
    node_id = int(event.target_id) if event.target_type == "node" and event.target_id.isdigit() else 0
    return Seen(actor=actor, event_id=event.pk, space_id=event.space_id, at=event.created_at.timestamp(),
                change=change, suspicious=suspicious, watch=watch if node_id else "", node_id=node_id,
                version=version)


# --- Redis windows -------------------------------------------------------------------

_clients: dict[str, redis.Redis] = {}


def enabled() -> bool:
    return settings.RANSOMWARE_RESPONSE != "off" and bool(settings.REDIS_URL)


def client() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def window_key(actor: str, which: str) -> str:
    return f"{PREFIX}{actor}:{which}"


def flagged_key(actor: str) -> str:
    return f"{PREFIX}{actor}:flagged"


def watch_key(node_id: int, version: int) -> str:
    return f"{PREFIX}v:{node_id}:{version}"


def observe(events: list[AuditEvent]) -> list[str]:
    """Committed events into their actors' windows; the actors flagged by them (each once per window)."""
    if not enabled():
        return []
    seen = [item for item in map(classify, events) if item is not None]
    if not seen:
        return []
    window = settings.RANSOMWARE_WINDOW_SECONDS
    try:
        pipe = client().pipeline(transaction=False)
        actors = defaultdict(list)
        for item in seen:
            actors[item.actor].append(item)
            if item.change:
                pipe.zadd(window_key(item.actor, CHANGE), {f"{item.event_id}:{item.space_id}:c": item.at})
            if item.suspicious:
                pipe.zadd(window_key(item.actor, SUSPICIOUS),
                          {f"{item.event_id}:{item.space_id}:{CODES[item.suspicious]}": item.at})
            if item.watch:
                pipe.set(watch_key(item.node_id, item.version),
                         f"{item.actor}|{item.event_id}|{item.space_id}|{item.watch}|{item.at}", ex=window)
        pipe.execute()
        return [actor for actor in actors if _evaluate(actor)]
    except redis.RedisError as exc:  # detection is best effort: the change itself has committed
        logger.warning("ransomware detection skipped: %s", exc)
        return []


def add_suspicious(actor: str, event_id: int, space_id: int, at: float) -> bool:
    """A write found to look encrypted after the fact (the hashing task); True if it flagged the actor."""
    client().zadd(window_key(actor, SUSPICIOUS), {f"{event_id}:{space_id}:{CODES['entropy']}": at})
    return _evaluate(actor)


def _evaluate(actor: str) -> bool:
    """Trim the actor's windows; over a threshold, flag them (once per window) and queue the response."""
    window, now = settings.RANSOMWARE_WINDOW_SECONDS, time.time()
    pipe = client().pipeline(transaction=False)
    for which in (CHANGE, SUSPICIOUS):
        pipe.zremrangebyscore(window_key(actor, which), "-inf", now - window)
        pipe.zcard(window_key(actor, which))
        pipe.expire(window_key(actor, which), window)
    results = pipe.execute()
    changes, suspicious = results[1], results[4]
    if changes < settings.RANSOMWARE_CHANGES and suspicious < settings.RANSOMWARE_SUSPICIOUS:
        return False
    if not client().set(flagged_key(actor), int(now), nx=True, ex=window):
        return False  # already flagged in this window
    from portal.governance.tasks import ransomware_respond

    enqueue(ransomware_respond, actor)
    return True


def blob_sampled(blob_id: int, head: bytes) -> int:
    """The hashing task read a new blob: ``head`` is its first SAMPLE_BYTES. Each
    version of it that a watched upload made (within the window) is suspicious when
    the head looks encrypted and the previous version's did not (a jump of at least
    JUMP bits per byte), or, for a new text file, at all. Returns how many were."""
    if not enabled() or not looks_random(head):
        return 0
    from datetime import timedelta

    from django.utils import timezone

    from portal.files.models import FileVersion

    since = timezone.now() - timedelta(seconds=settings.RANSOMWARE_WINDOW_SECONDS)
    found = 0
    try:
        for version in FileVersion.objects.filter(blob_id=blob_id, created_at__gte=since).only("node_id", "number"):
            raw = client().get(watch_key(version.node_id, version.number))
            if raw is None:
                continue
            actor, event_id, space_id, watch, at = raw.decode().split("|")
            if watch == "rewrite" and not _jumped(version, entropy(head)):
                continue
            found += 1
            add_suspicious(actor, int(event_id), int(space_id), float(at))
    except redis.RedisError as exc:
        logger.warning("ransomware entropy check skipped: %s", exc)
    return found


def _jumped(version, new_entropy: float) -> bool:
    """Whether the version before ``version`` had clearly less entropy (it is read, up to SAMPLE_BYTES)."""
    from portal.files.models import FileVersion
    from portal.storage import ObjectNotFound, get_store
    from portal.storage.tiers import HOT

    previous = (FileVersion.objects.filter(node_id=version.node_id, number__lt=version.number)
                .select_related("blob").order_by("-number").first())
    if previous is None or previous.blob.tier != HOT:
        return False  # nothing to compare with: the extension and the counts still apply
    try:
        with get_store().open(previous.blob.key, start=0, end=SAMPLE_BYTES - 1) as stream:
            before = stream.read()
    except ObjectNotFound:
        return False
    return entropy(before) <= new_entropy - JUMP


@dataclass
class Burst:
    """What one actor did in one space within the window."""

    space_id: int
    first_at: float
    event_ids: list[int]
    changes: int = 0
    extensions: int = 0
    notes: int = 0
    entropy: int = 0

    @property
    def suspicious(self) -> int:
        return self.extensions + self.notes + self.entropy


def bursts(actor: str) -> list[Burst]:
    """The actor's windows, per space (the earliest first), for the response."""
    found: dict[int, Burst] = {}
    pipe = client().pipeline(transaction=False)
    for which in (CHANGE, SUSPICIOUS):
        pipe.zrange(window_key(actor, which), 0, -1, withscores=True)
    kinds = {"c": "changes", "x": "extensions", "n": "notes", "y": "entropy"}
    for members in pipe.execute():
        for member, score in members:
            event_id, space_id, kind = member.decode().split(":")
            burst = found.setdefault(int(space_id), Burst(space_id=int(space_id), first_at=score, event_ids=[]))
            burst.first_at = min(burst.first_at, score)
            burst.event_ids.append(int(event_id))
            attribute = kinds[kind]
            setattr(burst, attribute, getattr(burst, attribute) + 1)
    return sorted(found.values(), key=lambda burst: burst.first_at)


def forget(actor: str) -> None:
    """Clear an actor's windows and flag (tests, and an administrator who cleared them)."""
    client().delete(window_key(actor, CHANGE), window_key(actor, SUSPICIOUS), flagged_key(actor))
