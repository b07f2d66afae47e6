from django.urls import path

from . import researcher_views, runner_views, views

app_name = "surveys"
urlpatterns = [
    # Participants (anonymous)
    path("s/<slug:slug>/", views.welcome, name="welcome"),
    path("s/<slug:slug>/instructions/", views.instructions, name="instructions"),
    path("s/<slug:slug>/trial/", runner_views.trial, name="trial"),
    path("s/<slug:slug>/answer/", runner_views.answer, name="answer"),
    path("s/<slug:slug>/trials/", runner_views.trials, name="trials"),
    path("s/<slug:slug>/check/", runner_views.check, name="check"),
    # The only way an image reaches a participant: those of their own trials around the current one.
    path("s/<slug:slug>/img/<slug:public_id>", runner_views.image, name="image"),
    path("s/<slug:slug>/done/", views.done, name="done"),
    # Researchers (login required)
    path("r/", researcher_views.dashboard, name="dashboard"),
    path("r/surveys/new/", researcher_views.survey_create, name="survey_create"),
    path("r/surveys/<int:pk>/", researcher_views.survey_detail, name="survey_detail"),
    path("r/surveys/<int:pk>/status/", researcher_views.survey_status, name="survey_status"),
    path("r/surveys/<int:pk>/prolific/", researcher_views.survey_prolific, name="survey_prolific"),
]
