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
    path("problems/", views.ProblemListView.as_view(), name="problems"),
    path("problems/candidates/", views.ProblemCandidatesView.as_view(), name="problem_candidates"),
    path("problems/new/", views.ProblemCreateView.as_view(), name="problem_new"),
    path("problems/<str:ref>/", views.ProblemDetailView.as_view(), name="problem_detail"),
    path("problems/<str:ref>/edit/", views.ProblemEditView.as_view(), name="problem_edit"),
    path(
        "problems/<str:ref>/comments/", views.ProblemCommentView.as_view(), name="problem_comment"
    ),
    path(
        "problems/<str:ref>/incidents/<str:op>/",
        views.ProblemIncidentsView.as_view(),
        name="problem_incidents",
    ),
    path(
        "problems/<str:ref>/transitions/<str:name>/",
        views.ProblemTransitionView.as_view(),
        name="problem_transition",
    ),
]
