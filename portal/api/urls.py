from django.urls import include, path

from portal.accounts.api import TokenDetailView, TokenListView
from portal.search.api import SearchView
from portal.shares.api import (InternalShareDetailView, InternalShareListView, NodeInternalShareListView,
                               ShareAccessListView, ShareDetailView, ShareListView, SharePolicyView)
from portal.people.api import GroupListView
from portal.spaces.api import (MemberDetailView, MemberListView, SpaceDetailView, SpaceGroupDetailView, SpaceGroupListView,
                               SpaceListView)

urlpatterns = [
    path("spaces/", SpaceListView.as_view(), name="space-list"),
    path("spaces/<id:space_id>/", SpaceDetailView.as_view(), name="space-detail"),
    path("spaces/<id:space_id>/members/", MemberListView.as_view(), name="member-list"),
    path("spaces/<id:space_id>/members/<id:user_id>/", MemberDetailView.as_view(), name="member-detail"),
    path("spaces/<id:space_id>/groups/", SpaceGroupListView.as_view(), name="space-group-list"),
    path("spaces/<id:space_id>/groups/<id:group_id>/", SpaceGroupDetailView.as_view(), name="space-group-detail"),
    path("groups/", GroupListView.as_view(), name="group-list"),
    path("tokens/", TokenListView.as_view(), name="token-list"),
    path("tokens/<id:token_id>/", TokenDetailView.as_view(), name="token-detail"),
    path("spaces/<id:space_id>/share-policy", SharePolicyView.as_view(), name="share-policy"),
    path("search", SearchView.as_view(), name="search"),
    path("shares", ShareListView.as_view(), name="share-list"),
    path("shares/<id:link_id>", ShareDetailView.as_view(), name="share-detail"),
    path("shares/<id:link_id>/accesses", ShareAccessListView.as_view(), name="share-accesses"),
    path("nodes/<id:node_id>/internal-shares", NodeInternalShareListView.as_view(), name="node-internal-shares"),
    path("internal-shares", InternalShareListView.as_view(), name="internal-share-list"),
    path("internal-shares/<id:share_id>", InternalShareDetailView.as_view(), name="internal-share-detail"),
    path("", include("portal.backups.urls")),
    path("", include("portal.files.urls")),
    path("", include("portal.governance.urls")),
]
