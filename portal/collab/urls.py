from django.urls import path

from portal.collab import views

app_name = "collab"

urlpatterns = [
    path("spaces/<int:space_id>/items/<int:node_id>/edit", views.edit_file, name="edit"),
]
