from django.urls import path, re_path

from portal.people.scim import views

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config, name="service-provider-config"),
    path("ResourceTypes", views.resource_types, name="resource-types"),
    path("ResourceTypes/<str:type_id>", views.resource_types, name="resource-type"),
    path("Schemas", views.schemas, name="schemas"),
    path("Schemas/<str:schema_id>", views.schemas, name="schema"),
    path("Users", views.users_collection, name="users"),
    path("Users/<str:user_id>", views.user_detail, name="user"),
    path("Groups", views.groups_collection, name="groups"),
    path("Groups/<str:group_id>", views.group_detail, name="group"),
    re_path(r"^(?P<rest>.*)$", views.unknown),
]
