"""/manage/imports/: the console's import pages (administrators only)."""

from django.urls import path

from portal.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("new/", views.job_new, name="job-new"),
    path("<id:job_id>/", views.job_detail, name="job"),
    path("<id:job_id>/run/", views.job_run, name="job-run"),
    path("<id:job_id>/delete/", views.job_delete, name="job-delete"),
    path("runs/<id:run_id>/progress/", views.run_progress, name="run-progress"),
    path("runs/<id:run_id>/report.csv", views.run_report, name="run-report"),
]
