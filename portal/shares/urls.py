from django.urls import re_path

from portal.shares import views

TOKEN = r"(?P<token>[A-Za-z0-9_-]{1,64})"

urlpatterns = [
    re_path(rf"^{TOKEN}$", views.link_page, name="share-page"),
    re_path(rf"^{TOKEN}/f/(?P<path>.+)$", views.link_page, name="share-browse"),
    re_path(rf"^{TOKEN}/download(?:/(?P<path>.+))?$", views.download, name="share-download"),
    re_path(rf"^{TOKEN}/zip(?:/(?P<path>.+))?$", views.download_zip, name="share-zip"),
    re_path(rf"^{TOKEN}/preview(?:/(?P<path>.+))?$", views.preview, name="share-preview"),
    re_path(rf"^{TOKEN}/upload(?:/(?P<path>.+))?$", views.upload, name="share-upload"),
]
