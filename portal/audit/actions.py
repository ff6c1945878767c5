"""Every audit action code, in one place."""

from django.db import models


class Action(models.TextChoices):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_THROTTLED = "auth.login_throttled"
    LOGOUT = "auth.logout"
    USER_CREATED = "user.created"
    TOKEN_ISSUED = "token.issued"
    TOKEN_REVOKED = "token.revoked"
    TOKEN_REJECTED = "token.rejected"
    SPACE_CREATED = "space.created"
    SPACE_RENAMED = "space.renamed"
    SPACE_ARCHIVED = "space.archived"
    SPACE_UNARCHIVED = "space.unarchived"
    SPACE_QUOTA_CHANGED = "space.quota_changed"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
