"""The browser portal's pages (namespace ``web``)."""

from django.urls import path

from portal.web import account, activity, agent, browser, devices, find, locks, settings_views, shares, spaces, uploads, viewer, zips

app_name = "web"

_SPACE = "spaces/<int:space_id>"
_ITEM = f"{_SPACE}/items/<int:node_id>"

urlpatterns = [
    path("spaces/", spaces.space_list, name="spaces"),
    path("spaces/new", spaces.space_new, name="space-new"),
    path(f"{_SPACE}/", browser.browser, name="browser"),
    path(f"{_SPACE}/folders", browser.folder_new, name="folder-new"),
    path(f"{_SPACE}/folder-paths", browser.folder_paths, name="folders"),
    path(f"{_SPACE}/upload", uploads.upload_put, name="upload"),
    path(f"{_SPACE}/upload-check", uploads.upload_check, name="upload-check"),
    path(f"{_SPACE}/bulk", browser.bulk_action, name="bulk"),
    path(f"{_SPACE}/zip", zips.selection_zip, name="selection-zip"),
    path(f"{_ITEM}/", browser.item_panel, name="item"),
    path(f"{_ITEM}/lock", locks.lock, name="lock"),
    path(f"{_ITEM}/unlock", locks.unlock, name="unlock"),
    path(f"{_ITEM}/break-lock", locks.break_lock, name="break-lock"),
    path(f"{_ITEM}/share", shares.share_dialog, name="share"),
    path(f"{_ITEM}/share/people", shares.share_people, name="share-people"),
    path(f"{_ITEM}/view", viewer.view_file, name="view"),
    path(f"{_ITEM}/view/bytes", viewer.view_bytes, name="view-bytes"),
    path(f"{_ITEM}/view/rendition", viewer.view_rendition, name="view-rendition"),
    path(f"{_ITEM}/view/status", viewer.view_status, name="view-status"),
    path(f"{_ITEM}/thumbnail", viewer.thumbnail, name="thumbnail"),
    path(f"{_ITEM}/star", find.star, name="star"),
    path(f"{_ITEM}/activity", activity.node_activity, name="node-activity"),
    path(f"{_ITEM}/<slug:action>", browser.item_action, name="item-action"),
    path(f"{_SPACE}/activity/", activity.space_activity, name="space-activity"),
    path(f"{_SPACE}/trash/", browser.trash, name="trash"),
    path(f"{_SPACE}/trash/<int:node_id>/<slug:action>", browser.trash_action, name="trash-action"),
    path(f"{_SPACE}/settings/", settings_views.space_settings, name="space-settings"),
    path(f"{_SPACE}/settings/<slug:section>", settings_views.space_settings_change, name="space-settings-change"),
    path("search/", find.search, name="search"),
    path("recent/", find.recent, name="recent"),
    path("starred/", find.starred, name="starred"),
    path("shared/", find.shared_with_me, name="shared-with-me"),
    path("shared/<int:node_id>/", find.shared_folder, name="shared-folder"),
    path("shared/people/<int:share_id>/remove", shares.share_people_revoke, name="share-people-revoke"),
    path("links/", shares.link_list, name="links"),
    path("links/<int:link_id>/", shares.link_detail, name="link"),
    path("links/<int:link_id>/<slug:action>", shares.link_action, name="link-action"),
    path("devices/", devices.device_list, name="devices"),
    path("agent/", agent.agent_index, name="agent"),
    path("agent/<str:name>", agent.agent_file, name="agent-file"),
    path("devices/enroll", devices.enrollment_token_new, name="device-enroll"),
    path("devices/<int:device_id>/", devices.device_detail, name="device"),
    path("devices/<int:device_id>/revoke", devices.device_revoke_view, name="device-revoke"),
    path("devices/<int:device_id>/snapshots/<int:snapshot_id>/", devices.snapshot_browse, name="snapshot"),
    path("account/", account.account, name="account"),
    path("account/tokens", account.token_new, name="token-new"),
    path("account/time-zone", account.time_zone, name="time-zone"),
    path("account/profile", account.profile, name="profile"),
    path("account/language", account.language, name="language"),
    path("account/tokens/<int:token_id>/revoke", account.token_revoke_view, name="token-revoke"),
    path("account/password/", account.PasswordChange.as_view(), name="password"),
    path("account/two-factor/", account.two_factor, name="two-factor"),
    path("account/two-factor/off", account.two_factor_off, name="two-factor-off"),
    path("accounts/login/verify/", account.sign_in_verify, name="sign-in-verify"),
]
