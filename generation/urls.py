from django.urls import path

from generation import run_views, views

app_name = "generation"
urlpatterns = [
    # Researchers (login required)
    # Any image of a pool the researcher may see; participants load theirs through surveys:image.
    path("img/<slug:public_id>", views.image, name="image"),
    path("r/pools/", views.pool_list, name="pool_list"),
    path("r/pools/import/", views.pool_import, name="pool_import"),
    path("r/pools/<int:pk>/", views.pool_detail, name="pool_detail"),
    path("r/pools/<int:pk>/obviously-bad/", views.pool_obviously_bad, name="pool_obviously_bad"),
    path("r/imports/<int:pk>/", views.import_status, name="import_status"),
    path("r/runs/", run_views.run_list, name="run_list"),
    path("r/runs/new/", run_views.run_create, name="run_create"),
    path("r/runs/matched/", run_views.matched_budget, name="matched_budget"),
    path("r/runs/<int:pk>/", run_views.run_detail, name="run_detail"),
    path("r/runs/<int:pk>/status/", run_views.run_status, name="run_status"),
    path("r/runs/<int:pk>/sample.png", run_views.run_sample, name="run_sample"),
    path("r/runs/<int:pk>/cancel/", run_views.run_cancel, name="run_cancel"),
    path("r/runs/<int:pk>/resume/", run_views.run_resume, name="run_resume"),
    path("r/runs/<int:pk>/generate/", run_views.run_generate, name="run_generate"),
]
