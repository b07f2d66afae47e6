"""The one Celery app, configured from Django settings (keys prefixed CELERY_).

Queues, routing, late acknowledgement and the Redis visibility timeout are set in settings.py; running
workers (`celery -A evalsite worker -Q gpu` on GPU machines) is described in docs/workers.md.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")

app = Celery("evalsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
