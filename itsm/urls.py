from django.urls import path

from itsm import views

app_name = "itsm"
urlpatterns = [
    path("portal/", views.PortalView.as_view(), name="portal"),
    path("desk/", views.DeskView.as_view(), name="desk"),
    path("incidents/new/", views.IncidentCreateView.as_view(), name="incident_new"),
    path("incidents/<str:ref>/", views.IncidentDetailView.as_view(), name="incident_detail"),
    path("incidents/<str:ref>/edit/", views.IncidentEditView.as_view(), name="incident_edit"),
    path(
        "incidents/<str:ref>/comments/",
        views.IncidentCommentView.as_view(),
        name="incident_comment",
    ),
    path(
        "incidents/<str:ref>/transitions/<str:name>/",
        views.IncidentTransitionView.as_view(),
        name="incident_transition",
    ),
]
