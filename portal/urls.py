from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.adminpanel.dashboard import admin_dashboard
from portal.core.health import healthz, healthz_live
from portal.people import oidc_views
from portal.web import account as web_account
from portal.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", healthz_live, name="healthz-live"),
    path("favicon.ico", web.favicon, name="favicon"),
    path("manage/", include("portal.adminpanel.console.urls")),
    path("admin/dashboard/", admin_dashboard, name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/login/", web_account.SignInView.as_view(), name="login"),
    path("accounts/logout/", oidc_views.SignOut.as_view(), name="logout"),  # and at the SSO provider
    path("oidc/", include(oidc_views)),
    path("accounts/password/reset/", web_account.PasswordResetRequest.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", web_account.PasswordResetSent.as_view(), name="password_reset_done"),
    path("accounts/password/reset/done/", web_account.PasswordResetComplete.as_view(),
         name="password_reset_complete"),
    path("accounts/password/reset/<uidb64>/<token>/", web_account.PasswordResetConfirm.as_view(),
         name="password_reset_confirm"),
    path("accounts/invite/<str:token>/", web_account.invitation_accept_view, name="invitation-accept"),
    path("api/v1/", include("portal.api.urls")),
    path("scim/v2/", include("portal.people.scim.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("storage/", include("portal.storage.urls")),
    path("s/", include("portal.shares.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("notifications/", include("portal.notify.urls")),
    path("manage/webhooks/", include("portal.notify.manage_urls")),
    path("manage/imports/", include("portal.imports.urls")),
    path("manage/storage/", include("portal.lifecycle.manage_urls")),
    path("manage/governance/", include("portal.governance.manage_urls")),
    path("", include("portal.collab.wopi.urls")),  # /wopi/files/<id> (office servers), /office/<id>/
    path("", include("portal.collab.urls")),  # the co-editing page
    path("", include("portal.web.urls")),
]

handler403 = "portal.web.views.permission_denied"
handler404 = "portal.web.views.not_found"
handler500 = "portal.web.views.server_error"
