from django.urls import path

from portal.governance.api import HoldListView, HoldReleaseView, RetentionDetailView, RetentionListView

urlpatterns = [
    path("governance/holds", HoldListView.as_view(), name="governance-hold-list"),
    path("governance/holds/<id:hold_id>/release", HoldReleaseView.as_view(), name="governance-hold-release"),
    path("governance/retention", RetentionListView.as_view(), name="governance-retention-list"),
    path("governance/retention/<id:policy_id>", RetentionDetailView.as_view(), name="governance-retention-detail"),
]
