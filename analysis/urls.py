from django.urls import path

from analysis import live_views, views

app_name = "analysis"
urlpatterns = [
    path("r/surveys/<int:pk>/results/", views.survey_results, name="survey_results"),
    path("r/surveys/<int:pk>/export.<str:fmt>", views.survey_export, name="survey_export"),
    path("r/surveys/<int:pk>/charts/<slug:name>.<str:fmt>", views.survey_chart, name="survey_chart"),
    path("r/surveys/<int:pk>/live/", live_views.survey_live, name="survey_live"),
    path("r/surveys/<int:pk>/live.json", live_views.survey_live_json, name="survey_live_json"),
    path("r/plotly.min.js", views.plotly_js, name="plotly_js"),
]
