from django.urls import path

from portal.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("badge", views.badge, name="badge"),
    path("read-all", views.mark_all_read, name="read-all"),
    path("<id:notification_id>/", views.open_notification, name="open"),
    path("follow/<id:node_id>", views.follow, name="follow"),
    path("email", views.preferences, name="preferences"),
]
