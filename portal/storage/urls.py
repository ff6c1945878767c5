from django.urls import path

from portal.storage import views

app_name = "storage"

# Mounted at "storage/": the local backend's signed URLs point here (see local.py).
urlpatterns = [
    path("o/<str:token>", views.object_download, name="object"),
    path("part/<str:token>", views.part_upload, name="part"),
    path("put/<str:token>", views.object_upload, name="put"),
]
