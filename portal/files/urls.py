from django.urls import path, re_path

from portal.core.ids import ID_RE
from portal.files import api, download_api, point_in_time_api, upload_api
from portal.locks import api as lock_api

urlpatterns = [
    path("spaces/<id:space_id>/folders", api.FolderListView.as_view(), name="folder-create"),
    re_path(rf"^spaces/(?P<space_id>{ID_RE})/tree(?:/(?P<path>.*))?$", api.TreeView.as_view(), name="tree"),
    re_path(rf"^spaces/(?P<space_id>{ID_RE})/zip(?:/(?P<path>.*))?$", download_api.ZipView.as_view(), name="zip"),
    path("spaces/<id:space_id>/trash", api.TrashListView.as_view(), name="trash-list"),
    path("spaces/<id:space_id>/restore-to-point/preview", point_in_time_api.PreviewView.as_view(),
         name="point-restore-preview"),
    path("spaces/<id:space_id>/restore-to-point", point_in_time_api.ApplyView.as_view(), name="point-restore"),
    path("restore-runs/<id:run_id>", point_in_time_api.RunView.as_view(), name="point-restore-run"),
    path("files/<id:node_id>", api.NodeView.as_view(), name="node"),
    path("files/<id:node_id>/move", api.NodeMoveView.as_view(), name="node-move"),
    path("files/<id:node_id>/copy", api.NodeCopyView.as_view(), name="node-copy"),
    path("files/<id:node_id>/content", download_api.ContentView.as_view(), name="node-content"),
    path("files/<id:node_id>/lock", lock_api.LockView.as_view(), name="node-lock"),
    path("files/<id:node_id>/versions", api.VersionListView.as_view(), name="version-list"),
    path("files/<id:node_id>/versions/<id:number>/restore", api.VersionRestoreView.as_view(),
         name="version-restore"),
    path("trash/<id:node_id>", api.TrashItemView.as_view(), name="trash-item"),
    path("trash/<id:node_id>/restore", api.TrashRestoreView.as_view(), name="trash-restore"),
    path("uploads", upload_api.UploadListView.as_view(), name="upload-list"),
    path("uploads/<str:upload_id>", upload_api.UploadView.as_view(), name="upload"),
    path("uploads/<str:upload_id>/complete", upload_api.UploadCompleteView.as_view(), name="upload-complete"),
]
