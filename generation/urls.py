from django.urls import path

app_name = "generation"
urlpatterns = []
