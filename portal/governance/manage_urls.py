from django.urls import path

from portal.governance import manage_views, sensitive_views

app_name = "governance"

urlpatterns = [
    path("", manage_views.governance_page, name="page"),
    path("holds/", manage_views.hold_create, name="hold-create"),
    path("holds/<id:hold_id>/release/", manage_views.hold_release, name="hold-release"),
    path("retention/", manage_views.retention_set, name="retention-set"),
    path("retention/<id:policy_id>/clear/", manage_views.retention_clear, name="retention-clear"),
    path("reviews/<id:item_id>/resolve/", manage_views.review_resolve, name="review-resolve"),
    path("sensitive/", sensitive_views.sensitive_page, name="sensitive"),
    path("sensitive/<id:review_id>/approve/", sensitive_views.review_approve, name="sensitive-approve"),
    path("sensitive/<id:review_id>/reject/", sensitive_views.review_reject, name="sensitive-reject"),
    path("sensitive/<id:review_id>/relabel/", sensitive_views.review_relabel, name="sensitive-relabel"),
    path("sensitive/policies/", sensitive_views.policy_set, name="sensitive-policy"),
    path("sensitive/detectors/", sensitive_views.detector_save, name="sensitive-detector"),
]
