"""The site's URLs plus ``POST bench/insert/``: a bare view that inserts one row, the stack's ceiling.

It goes through the same gunicorn workers, the same middleware and the same database connection handling as
the answer endpoint, but does only what any write must: one INSERT, committed, and a small JSON reply. The
table it writes (``bench_ceiling``) is created by ``bench/load_setup.py --ceiling-table`` in the benchmark's
own database. Served only under bench/load_settings.py.
"""
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from evalsite.urls import urlpatterns as site_urlpatterns


@csrf_exempt  # a benchmark client, not a browser: the cost of the CSRF check belongs to the answer path only
@require_POST
def insert_one(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_ceiling (run, client, sent) VALUES (%s, %s, %s) RETURNING id",
                       [request.POST.get("run", "")[:40], int(request.POST.get("client", 0)),
                        int(request.POST.get("sent", 0))])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"recorded": True, "id": row_id})


urlpatterns = [path("bench/insert/", insert_one, name="bench_insert"), *site_urlpatterns]
