from django.urls import path

from portal.lifecycle import manage_views

app_name = "tiers"

urlpatterns = [
    path("", manage_views.storage_page, name="page"),
    path("policies/", manage_views.space_policy_set, name="policy-set"),
    path("policies/<id:space_id>/clear/", manage_views.space_policy_clear, name="policy-clear"),
]
