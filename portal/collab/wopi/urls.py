from django.urls import path

from portal.collab.wopi import page, views

urlpatterns = [
    path("office/<id:node_id>/", page.office_open, name="wopi-office"),
    path("wopi/files/<str:file_id>", views.WopiFileView.as_view(), name="wopi-file"),
    path("wopi/files/<str:file_id>/contents", views.WopiContentsView.as_view(), name="wopi-contents"),
]
