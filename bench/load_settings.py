"""Settings of the load benchmark's server: the site's own settings, plus one URL (the bare-insert ceiling).

Only bench/load.py starts a server with these (DJANGO_SETTINGS_MODULE=bench.load_settings); a deployment uses
evalsite.settings, whose URLs never include the ceiling view, so that view is unreachable there.
"""
import os

from evalsite.settings import *  # noqa: F401,F403  (the site exactly as deployed, everything else unchanged)

ROOT_URLCONF = "bench.load_urls"

# --prepared: server-side parameter binding, so that psycopg prepares a statement the 5th time a connection runs it
# and PostgreSQL stops planning it again on every request (the participant queries join five tables: planning
# costs more than running them). Only with persistent connections (EVALSITE_DB_CONN_MAX_AGE > 0) does a prepared
# statement outlive its request. Not what evalsite.settings does; the benchmark shows what it would change.
if os.environ.get("EVALSITE_BENCH_PREPARED") == "1":
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)  # noqa: F405
