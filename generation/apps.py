from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Image pools and models"

    def ready(self):
        from . import checks  # noqa: F401  (registers the image-format system check)
