"""Settings of the load benchmark's server: the site's own settings, plus one URL (the bare-insert ceiling).

Only bench/load.py starts a server with these (DJANGO_SETTINGS_MODULE=bench.load_settings); a deployment uses
evalsite.settings, whose URLs never include the ceiling view, so that view is unreachable there.
"""
from evalsite.settings import *  # noqa: F401,F403  (the site exactly as deployed, everything else unchanged)

ROOT_URLCONF = "bench.load_urls"
