from django.urls import path

from portal.notify import manage_views

app_name = "webhooks"

urlpatterns = [
    path("", manage_views.webhook_page, name="list"),
    path("<id:webhook_id>/<slug:action>", manage_views.webhook_action, name="action"),
]
