from django.urls import path

from analysis import views

app_name = "analysis"
urlpatterns = [
    path("r/surveys/<int:pk>/results/", views.survey_results, name="survey_results"),
    path("r/surveys/<int:pk>/export.<str:fmt>", views.survey_export, name="survey_export"),
    path("r/plotly.min.js", views.plotly_js, name="plotly_js"),
]
