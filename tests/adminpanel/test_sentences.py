"""describe(event): one readable sentence per event."""

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.audit.sentences import describe


def _event(action, **fields) -> AuditEvent:
    fields.setdefault("actor_label", "alice")
    return AuditEvent(action=action, **fields)


def test_a_download_names_who_what_and_from_where():
    event = _event(Action.FILE_DOWNLOADED, target_label="/Finance/Q3.xlsx", ip="10.0.0.7")
    assert describe(event) == "alice downloaded /Finance/Q3.xlsx from 10.0.0.7"


def test_a_download_through_a_link_names_the_link():
    event = _event(Action.SHARE_DOWNLOADED, actor_label="anonymous visitor", target_label="link 7 on /Finance/Q3.xlsx")
    assert describe(event) == "anonymous visitor downloaded /Finance/Q3.xlsx via link 7"


def test_details_fill_the_blanks():
    event = _event(Action.SPACE_QUOTA_CHANGED, target_label="Team", details={"from": 10 * 2**30, "to": 20 * 2**30})
    assert describe(event) == "alice changed the quota of Team from 10.0\xa0GB to 20.0\xa0GB"
    event = _event(Action.MEMBER_ROLE_CHANGED, target_label="bob", details={"from": "viewer", "to": "editor"})
    assert describe(event) == "alice made bob editor (was viewer) in —"


def test_system_events_have_no_person():
    assert describe(_event(Action.LOCK_EXPIRED, actor_label="", target_label="/a.docx")) == "the lock on /a.docx expired"


def test_failures_say_so_once():
    event = _event(Action.LOGIN_FAILED, outcome=Outcome.FAILURE, ip="203.0.113.9")
    assert describe(event) == "a sign-in as alice failed from 203.0.113.9"
    event = _event(Action.SHARE_CREATED, outcome=Outcome.DENIED, target_label="link 3 on /x")
    assert describe(event) == "alice created link 3 on /x (denied)"


def test_admin_actions_read_as_sentences():
    assert describe(_event(Action.USER_DISABLED, actor_label="root", target_label="bob")) == \
        "root disabled the account bob"
    assert describe(_event(Action.AUDIT_EXPORTED, actor_label="root", details={"rows": 5, "format": "csv"})) == \
        "root exported 5 audit events as csv"


def test_unknown_actions_fall_back_to_their_family_or_a_generic_sentence():
    assert describe(_event("file.teleported", target_label="/a")) == "alice changed /a (file.teleported)"
    assert describe(_event("weird.thing", target_label="x")) == "alice: weird.thing on x"
    assert describe(_event(Action.SPACE_RENAMED, target_label="T")) == "alice renamed the space ? to ?"


def test_every_known_action_has_its_own_sentence():
    generic = [a for a in Action.values if "{action}" in describe(_event(a)) or a in describe(_event(a))]
    assert generic == []
