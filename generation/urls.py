from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    # Participants (anonymous): the only way an image reaches a browser.
    path("img/<str:public_id>", views.image, name="image"),
    # Researchers (login required)
    path("r/pools/", views.pool_list, name="pool_list"),
    path("r/pools/import/", views.pool_import, name="pool_import"),
    path("r/pools/<int:pk>/", views.pool_detail, name="pool_detail"),
    path("r/imports/<int:pk>/", views.import_status, name="import_status"),
]
