"""A notification as a sentence, written when it is read, in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy

from portal.audit.actions import Action
from portal.notify.models import Kind, Notification

_SENTENCES = {
    Kind.SHARED: gettext_lazy("%(actor)s shared %(name)s with you"),
    Kind.SPACE_ADDED: gettext_lazy("%(actor)s added you to the space %(space)s"),
    Kind.LINK_OPENED: gettext_lazy("Your link to %(name)s was opened for the first time"),
    Kind.LINK_DOWNLOADED: gettext_lazy("Your link to %(name)s was downloaded for the first time"),
    Kind.LOCK_BROKEN: gettext_lazy("%(actor)s broke your lock on %(name)s"),
    Kind.BACKUP_STALE: gettext_lazy("Your device %(device)s has not backed up for %(days)s days"),
    Kind.QUOTA_NEARLY_FULL: gettext_lazy("The space %(space)s is %(percent)s%% full"),
    Kind.FILE_READY: gettext_lazy("%(name)s is back from archive storage: you can download it now"),
    Kind.RANSOMWARE_SUSPECTED: gettext_lazy("Possible ransomware in the space %(space)s: %(suspect)s rewrote or renamed %(changes)s files and made %(suspicious)s suspicious writes; open the restore to the time before it began"),
    Kind.FILES_DAMAGED: gettext_lazy("The store's integrity check found %(damaged)s damaged and %(missing)s missing "
                                     "stored files; the storage page lists them"),
}
# Kinds other apps notify of, by name (no migration of Kind's choices for them).
_SENTENCES["links_held"] = gettext_lazy("Your external links to %(name)s were switched off: it holds sensitive "
                                        "content (%(labels)s) and waits for an administrator's review")
_CHANGES = {
    Action.FILE_UPLOADED: gettext_lazy("%(actor)s uploaded a new version of %(name)s"),
    Action.FILE_VERSION_RESTORED: gettext_lazy("%(actor)s restored an earlier version of %(name)s"),
    Action.FILE_RENAMED: gettext_lazy("%(actor)s renamed %(name)s"),
    Action.FILE_MOVED: gettext_lazy("%(actor)s moved %(name)s"),
    Action.FILE_RESTORED: gettext_lazy("%(actor)s restored %(name)s from the trash"),
}
_CHANGED = gettext_lazy("%(actor)s changed %(name)s")


class _Fields(dict):
    def __missing__(self, key):
        return "?"


def sentence(note: Notification) -> str:
    params = note.params if isinstance(note.params, dict) else {}
    if note.kind == Kind.FOLLOWED_CHANGED:
        template = _CHANGES.get(params.get("action"), _CHANGED)
    else:
        template = _SENTENCES.get(note.kind, _CHANGED)
    fields = _Fields({k: v for k, v in params.items()})
    fields["actor"] = note.actor_label or gettext("Someone")
    return str(template) % fields
