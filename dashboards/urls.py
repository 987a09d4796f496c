from django.urls import path

from dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.dashboard_index, name="index"),
    path("<slug:key>/", views.DashboardPage.as_view(), name="dashboard"),
]
