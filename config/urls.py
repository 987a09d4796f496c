from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from core import attachment_views, notification_views, people_views, token_views, watch_views
from core import views as core_views
from core.health_views import healthz, readyz
from core.signin import ObtainAuthTokenView
from itsm import homes as itsm_homes
from knowledge.api import ArticleViewSet
from projects import homes as project_homes

knowledge_router = DefaultRouter(trailing_slash=True)
knowledge_router.register("articles", ArticleViewSet, basename="article")

api_v1 = [
    path("auth/token/", ObtainAuthTokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, not inline (the CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("core.api.urls")),
    path("", include("sla.api.urls")),
    path("", include("projects.api.urls")),
    path("", include(knowledge_router.urls)),
    path("", include("itsm.api.urls")),
    path("", include("integrations.api.urls")),
]

# JSON under /api/, the site's pages elsewhere (core.errors); 500 needs no database.
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),  # liveness and readiness probes (core/health.py)
    path("readyz", readyz, name="readyz"),
    path("", core_views.home, name="home"),
    # Each role's home (core.homes); the dashboards live with the records they show.
    path("home/incidents/", itsm_homes.IncidentManagerHome.as_view(), name="home_incident_manager"),
    path("home/problems/", itsm_homes.ProblemManagerHome.as_view(), name="home_problem_manager"),
    path("home/support/", project_homes.SecondLineHome.as_view(), name="home_second_line"),
    path("home/changes/", project_homes.ChangeManagerHome.as_view(), name="home_change_manager"),
    path("home/releases/", project_homes.ReleaseManagerHome.as_view(), name="home_release_manager"),
    path("home/projects/", project_homes.ProjectManagerHome.as_view(), name="home_project_manager"),
    path("services/", core_views.ServiceListView.as_view(), name="services"),
    path("services/<int:pk>/", core_views.ServiceDetailView.as_view(), name="service_detail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("attachments/<int:pk>/", attachment_views.attachment_download, name="attachment_download"),
    path(
        "attachments/<int:pk>/delete/",
        attachment_views.attachment_delete,
        name="attachment_delete",
    ),
    path(
        "attachments/add/<str:label>/<int:object_id>/",
        attachment_views.attachment_upload,
        name="attachment_upload",
    ),
    path("watchers/<str:label>/<int:object_id>/", watch_views.watch_add, name="watch_add"),
    path(
        "watchers/<str:label>/<int:object_id>/remove/",
        watch_views.watch_remove,
        name="watch_remove",
    ),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path(
        "notifications/<int:pk>/read/",
        notification_views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notification_read_all",
    ),
    path(
        "notifications/preferences/",
        notification_views.notification_preferences,
        name="notification_preferences",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        notification_views.mail_unsubscribe,
        name="mail_unsubscribe",
    ),
    path("profile/tokens/", token_views.token_list, name="profile_tokens"),
    path(
        "profile/tokens/<int:pk>/revoke/",
        token_views.token_revoke,
        name="profile_token_revoke",
    ),
    path("people/suggest", people_views.people_suggest, name="people_suggest"),
    path("markdown/preview", people_views.markdown_preview, name="markdown_preview"),
    path("api/v1/", include(api_v1)),
    path("sla/", include("sla.urls")),
    path("kb/", include("knowledge.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("integrations/", include("integrations.urls")),
    path("", include("projects.urls")),
    path("", include("itsm.urls")),
]

if settings.OIDC_ENABLED:  # "Sign in with …" (core/sso): /oidc/authenticate/, /oidc/callback/
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))

if settings.TANDEM_BENCH_BARE:
    # bench/load.py's ceiling and floors (core.bench_views).
    from core import bench_views

    urlpatterns[:0] = [
        path("bench/bare/", bench_views.bench_bare, name="bench_bare"),
        path("bench/page-floor/<str:key>/", bench_views.bench_page_floor),
        path("bench/api-floor/<str:key>/", bench_views.BenchApiFloor.as_view()),
        path("bench/create-floor/<str:key>/", bench_views.BenchCreateFloor.as_view()),
    ]
