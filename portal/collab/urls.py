from django.urls import path, re_path

from portal.collab import views

app_name = "collab"

urlpatterns = [
    path("spaces/<id:space_id>/items/<id:node_id>/edit", views.edit_file, name="edit"),
    re_path(r"^s/(?P<token>[A-Za-z0-9_-]{1,64})/edit$", views.edit_via_link, name="edit-link"),
]
