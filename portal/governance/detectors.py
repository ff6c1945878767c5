"""Sensitive-content detectors: pure functions over text, no database.

Each detector counts what it finds in a text and keeps a few *masked*
samples (never a matched value in clear). The scan is built for speed: every
pass over the whole text is a compiled regular expression or a ``str``
method running in C; Python code only runs per candidate (a long digit run,
an ``@``), never per character.

- Numbers: one regex over the UTF-8 bytes (digits translated to ``0`` first,
  see _DIGIT_RUN) finds runs of digits, maybe grouped by spaces or hyphens; a run is one number when it has no
  separator or is grouped as numbers are written (a card in fours, ``6222
  0202 0000 0000 003``; an ID 6+8+4; a phone 3+4+4, after ``+86``), otherwise
  each part of 11+ digits stands alone. Each number is classified in Python: a resident identity number (18 characters, a
  valid region and birth date, the ISO 7064 MOD 11-2 check digit), a
  mainland mobile number (``1[3-9]`` + 9 digits, optionally ``+86``/``86``),
  or a bank card (13-19 digits passing Luhn).
- E-mail addresses: a regex anchored on the ``@`` (a literal, so ``re``
  skips to it at C speed) finds the domain; the local part is matched
  backwards from it.
- Keyword lists: the non-ASCII (Chinese) keywords of a list as one
  alternation over the str, the ASCII ones by ``bytes.count`` over the UTF-8
  text with its ASCII letters lowered (English keywords match in any case).
- Administrator regular expressions: compiled once by ``compile_admin_regex``,
  which refuses what could backtrack catastrophically (Python's ``re`` has no
  timeout): back-references, look-arounds, any unbounded repeat whose body
  holds another repeat or an alternation (``(a+)+``, ``(a|aa)*``) and any
  repeat whose body holds an unbounded one (``(.*a){20}``); the
  pattern is at most ``ADMIN_PATTERN_MAX`` characters, and an administrator
  regex only ever sees the first ``ADMIN_TEXT_MAX`` characters of a text.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

try:  # Python 3.11+
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re import _constants as sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

ID_NUMBER = "id_number"
BANK_CARD = "bank_card"
PHONE = "phone"
EMAIL = "email"
KEYWORDS = "keywords"
REGEX = "regex"
BUILT_IN = (ID_NUMBER, BANK_CARD, PHONE, EMAIL)
KINDS = BUILT_IN + (KEYWORDS, REGEX)

SAMPLES = 3                      # masked samples kept per detector
ADMIN_PATTERN_MAX = 300          # characters of an administrator's pattern
ADMIN_TEXT_MAX = 1024 * 1024     # characters an administrator's pattern scans
KEYWORDS_MAX = 500               # keywords in one list

# Numbers are found in two C passes: the bytes are translated (every digit
# becomes "0"), then one pattern with a literal prefix ("0000": re skips to it
# at C speed, several times faster than a character-class scan, and dates and
# amounts rarely start an attempt) finds 11 or more digits in a row, or groups
# of digits joined by single spaces or hyphens where every group after the
# first has 3 or more (so 2024-01-05 is never a candidate). A number written
# with a shorter first group (138 0013 8000, +86 138 ...) is found from its
# first 4-digit group and extended backwards. The candidates are sorted out
# in Python. All the built-in scans work on the UTF-8 bytes (a byte a digit).
_RUN_TABLE = bytes.maketrans(b"0123456789", b"0000000000")
_DIGIT_RUN = re.compile(rb"0000(?:0{7,}|0{0,15}(?:[ \-]0{3,19}){1,5})")
_GROUPS_BEFORE = re.compile(rb"(?:0{2,3}[ \-]){1,2}\Z")
_EMAIL_DOMAIN = re.compile(rb"@([A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}))*"
                           rb"\.[A-Za-z]{2,24})(?![A-Za-z0-9\-])")
_EMAIL_LOCAL = re.compile(rb"[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})\Z")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of a mainland, Hong Kong, Macao or Taiwan residence number.
_ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83 91"
    .split())


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an identity number's 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    """An 18-character resident identity number: region, real birth date, check digit."""
    if len(value) != 18 or not value[:17].isdigit() or value[:2] not in _ID_PROVINCES:
        return False
    try:
        born = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > datetime.date.today():
        return False
    return value[17].upper() == id_check_digit(value[:17])


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def valid_bank_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits.isdigit() and digits[0] != "0" and luhn_valid(digits)


def valid_phone(digits: str) -> bool:
    """A mainland mobile number, with or without the 86 country code."""
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" and digits.isdigit()


def mask(value: str, keep_start: int = 3, keep_end: int = 2) -> str:
    """A sample safe to store: the ends kept, the middle starred."""
    if len(value) <= keep_start + keep_end:
        return value[:1] + "*" * (len(value) - 1)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]


def mask_email(local: str, domain: str) -> str:
    return f"{local[:1]}***@{domain}"


@dataclass
class Finding:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, sample: str, n: int = 1) -> None:
        self.count += n
        if len(self.samples) < SAMPLES and sample not in self.samples:
            self.samples.append(sample)


def _looks_like_id(digits: str) -> bool:
    """An 18-character number with an identity number's region and a real birth
    date: an ID with a wrong check digit (a typo, a fake), not a bank card."""
    if digits[:2] not in _ID_PROVINCES:
        return False
    try:
        born = datetime.date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year


def _classify(digits: str) -> str | None:
    if len(digits) == 18:
        if valid_id_number(digits):
            return ID_NUMBER
        if not digits.isdigit() or _looks_like_id(digits):
            return None
    if valid_phone(digits):
        return PHONE
    if valid_bank_card(digits):
        return BANK_CARD
    return None


def _grouped_as_one(groups: list[str]) -> bool:
    """Groups that write one number: a card in fours (or 6+13, 4+6+5), an
    identity number as 6+8+4, a phone as 3+4+4 (after an optional 86)."""
    sizes = [len(g) for g in groups]
    if sizes[0] == 2 and groups[0] == "86":
        sizes = sizes[1:]
    if sizes in ([6, 8, 4], [3, 4, 4], [6, 13], [4, 6, 5], [4, 6, 4]):
        return True
    return len(sizes) >= 3 and all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _to_bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")


def scan_numbers(text: str | bytes) -> dict[str, Finding]:
    """Identity numbers, mobile numbers and bank cards in the text."""
    data = _to_bytes(text)
    found = {ID_NUMBER: Finding(), BANK_CARD: Finding(), PHONE: Finding()}
    alnum, size = _ALNUM, len(data)
    translated = data.translate(_RUN_TABLE)
    for match in _DIGIT_RUN.finditer(translated):
        start, end = match.span()
        if start and data[start - 1] in b" -":  # short groups before it: 138 0013 8000, 86 138 0013 8000
            before = _GROUPS_BEFORE.search(translated, max(0, start - 8), start)
            if before is not None:
                start = before.start()
        raw = data[start:end]
        if len(raw) - raw.count(b" ") - raw.count(b"-") < 11:
            continue
        if end < size and data[end] in b"Xx":
            raw += b"X"
            end += 1
        # A run glued to letters or more digits is part of something else (a hash, a serial).
        if (start and data[start - 1] in alnum) or (end < size and data[end] in alnum):
            continue
        groups = raw.decode("ascii").upper().replace("-", " ").split()
        if len(groups) == 1 or _grouped_as_one(groups):
            candidates = ["".join(groups)]
        else:
            candidates = [g for g in groups if len(g) >= 11]
        for digits in candidates:
            kind = _classify(digits)
            if kind is not None:
                found[kind].add(_masked_number(kind, digits))
    return found


def _masked_number(kind: str, digits: str) -> str:
    if kind == ID_NUMBER:
        return mask(digits, 3, 1)
    if kind == PHONE:
        return mask(digits[-11:], 3, 2)
    return mask(digits, 4, 4)


def scan_emails(text: str | bytes) -> Finding:
    data = _to_bytes(text)
    found = Finding()
    local_re = _EMAIL_LOCAL
    for match in _EMAIL_DOMAIN.finditer(data):
        at = match.start()
        local = local_re.search(data, max(0, at - 64), at)
        if local is None:
            continue
        found.add(mask_email(local.group().decode("ascii"), match.group(1).decode("ascii")))
    return found


def normalise_keywords(raw: str | list[str]) -> list[str]:
    """One keyword a line (or a list): ASCII letters lowered, blanks and repeats dropped."""
    lines = raw.splitlines() if isinstance(raw, str) else raw
    seen: dict[str, None] = {}
    for line in lines:
        word = line.strip().encode("utf-8").lower().decode("utf-8")
        if word:
            seen[word] = None
    return list(seen)[:KEYWORDS_MAX]


def keyword_pattern(keywords) -> re.Pattern | None:
    """One alternation of a list's non-ASCII keywords (Chinese has no case), longest first."""
    words = sorted((w for w in keywords if not w.isascii()), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, words))) if words else None


def scan_keywords(text: str, lowered: bytes, keywords, pattern: re.Pattern | None = None) -> Finding:
    """Non-ASCII keywords: one alternation over the str (a character-set
    prefix scan in C); ASCII ones: ``bytes.count`` over ``lowered``, the UTF-8
    text with its ASCII letters lowered once for every list (any case matches)."""
    found = Finding()
    if pattern is None:
        pattern = keyword_pattern(keywords)
    if pattern is not None:
        for word in pattern.findall(text):
            found.add(mask(word, 1, 0))
    for word in keywords:
        if word.isascii():
            n = lowered.count(word.encode("ascii"))
            if n:
                found.add(mask(word, 1, 0) if len(word) > 1 else "*", n)
    return found


class UnsafePattern(ValueError):
    """An administrator's pattern that is refused (too long, invalid or able to backtrack for ever)."""


_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
if hasattr(sre_constants, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_constants.POSSESSIVE_REPEAT)
_REFUSED = {sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS, sre_constants.ASSERT, sre_constants.ASSERT_NOT}
_UNBOUNDED = sre_constants.MAXREPEAT


def _walk(items) -> None:
    for op, arg in items:
        if op in _REFUSED:
            raise UnsafePattern("back-references and look-arounds are not allowed")
        if op in _REPEATS:
            low, high, body = arg
            unbounded = high == _UNBOUNDED or high > 1000
            if unbounded and _has(body, any_repeat=True):
                raise UnsafePattern("nested repetition is not allowed")
            if high > 1 and _has(body, any_repeat=False):
                raise UnsafePattern("nested repetition is not allowed")
            _walk(body)
        elif op == sre_constants.SUBPATTERN:
            _walk(arg[-1])
        elif op == sre_constants.BRANCH:
            for branch in arg[1]:
                _walk(branch)
        elif op == getattr(sre_constants, "ATOMIC_GROUP", None):
            _walk(arg)


def _has(items, *, any_repeat: bool) -> bool:
    """Whether items hold a repeat or an alternation (any_repeat), or else an unbounded repeat."""
    for op, arg in items:
        if op in _REPEATS:
            if any_repeat or arg[1] == _UNBOUNDED or arg[1] > 1000:
                return True
            if _has(arg[2], any_repeat=any_repeat):
                return True
        elif op == sre_constants.BRANCH:
            if any_repeat or any(_has(b, any_repeat=False) for b in arg[1]):
                return True
        elif op == sre_constants.SUBPATTERN and _has(arg[-1], any_repeat=any_repeat):
            return True
        elif op == getattr(sre_constants, "ATOMIC_GROUP", None) and _has(arg, any_repeat=any_repeat):
            return True
    return False


def compile_admin_regex(pattern: str) -> re.Pattern:
    """Compile an administrator's pattern once, or raise UnsafePattern."""
    if not pattern or len(pattern) > ADMIN_PATTERN_MAX:
        raise UnsafePattern(f"a pattern has 1 to {ADMIN_PATTERN_MAX} characters")
    try:
        parsed = sre_parse.parse(pattern, 0)
        compiled = re.compile(pattern)  # (?i) makes it case-insensitive: re then loses its fast prefix search
    except (re.error, OverflowError, RecursionError) as exc:
        raise UnsafePattern(f"not a valid regular expression: {exc}") from None
    _walk(list(parsed))
    return compiled


def scan_regex(text: str, compiled: re.Pattern) -> Finding:
    found = Finding()
    for match in compiled.finditer(text[:ADMIN_TEXT_MAX]):
        value = match.group()
        if value:
            found.add(mask(value, 1, 1))
    return found


@dataclass(frozen=True)
class DetectorSpec:
    """One configured detector: its kind, the label it gives and from how many hits."""
    key: str
    kind: str
    label: str
    threshold: int = 1
    keywords: tuple[str, ...] = ()
    pattern: re.Pattern | None = None


@dataclass
class Label:
    label: str
    detector: str
    count: int
    samples: list[str]


def run(text: str, specs: list[DetectorSpec]) -> list[Label]:
    """Every detector over the text; a label for each detector at or above its threshold."""
    kinds = {spec.kind for spec in specs}
    data = _to_bytes(text) if kinds - {REGEX} else b""
    numbers = scan_numbers(data) if kinds & {ID_NUMBER, BANK_CARD, PHONE} else {}
    emails = scan_emails(data) if EMAIL in kinds else None
    lowered = data.lower() if any(s.kind == KEYWORDS and any(w.isascii() for w in s.keywords) for s in specs) else b""
    labels = []
    for spec in specs:
        if spec.kind in numbers:
            finding = numbers[spec.kind]
        elif spec.kind == EMAIL:
            finding = emails
        elif spec.kind == KEYWORDS:
            finding = scan_keywords(text, lowered, spec.keywords, spec.pattern)
        elif spec.kind == REGEX and spec.pattern is not None:
            finding = scan_regex(text, spec.pattern)
        else:
            continue
        if finding.count and finding.count >= max(1, spec.threshold):
            labels.append(Label(spec.label, spec.key, finding.count, list(finding.samples)))
    return labels


DEFAULT_SPECS = [
    DetectorSpec("id_number", ID_NUMBER, "personal-id", 1),
    DetectorSpec("bank_card", BANK_CARD, "bank-card", 1),
    DetectorSpec("phone", PHONE, "contact-details", 5),
    DetectorSpec("email", EMAIL, "contact-details", 10),
]


def keywords_spec(key: str, label: str, threshold: int, keywords) -> DetectorSpec:
    words = tuple(normalise_keywords(list(keywords)))
    return DetectorSpec(key, KEYWORDS, label, threshold, words, keyword_pattern(words))
