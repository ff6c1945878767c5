"""/manage/: the admin console (administrators only; anyone else gets 404)."""

from django.urls import path, register_converter

from portal.adminpanel.console import groups, home, site, spaces, users

app_name = "manage"


class UserAction:
    regex = "|".join(users.USER_ACTIONS)

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(UserAction, "user_action")

urlpatterns = [
    path("", home.home, name="home"),
    path("users/", users.user_list, name="users"),
    path("users/new/", users.user_new, name="user-new"),
    path("users/invite/", users.user_invite, name="user-invite"),
    path("users/<id:user_id>/<user_action:action>/", users.user_action, name="user-action"),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_new, name="group-new"),
    path("groups/<id:group_id>/", groups.group_detail, name="group"),
    path("groups/<id:group_id>/rename/", groups.group_rename, name="group-rename"),
    path("groups/<id:group_id>/delete/", groups.group_delete, name="group-delete"),
    path("groups/<id:group_id>/members/add/", groups.group_member_add, name="group-member-add"),
    path("groups/<id:group_id>/members/<id:user_id>/remove/", groups.group_member_remove,
         name="group-member-remove"),
    path("spaces/", spaces.space_list, name="spaces"),
    path("spaces/<id:space_id>/quota/", spaces.space_quota, name="space-quota"),
    path("spaces/<id:space_id>/owner/", spaces.space_owner, name="space-owner"),
    path("spaces/<id:space_id>/archive/", spaces.space_archive, {"archived": True}, name="space-archive"),
    path("spaces/<id:space_id>/unarchive/", spaces.space_archive, {"archived": False}, name="space-unarchive"),
    path("spaces/<id:space_id>/trash/", spaces.space_trash, name="space-trash"),
    path("spaces/<id:space_id>/restore/", spaces.space_restore, name="space-restore"),
    path("settings/", site.site_settings, name="settings"),
]
