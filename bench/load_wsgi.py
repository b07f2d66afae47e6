"""evalsite's WSGI application with every URL's view module imported up front, for ``gunicorn --preload``.

Django imports the URL configuration (and with it pandas, plotly and scipy, through the analysis views) on a
worker's first request: about 2 s on the development machine, paid once per worker. Under load that lands in
the measured latencies, and again in every worker gunicorn starts later. Imported once in gunicorn's master
(--preload), the forked workers start with it done. No database connection is opened here, so none is shared
across the fork.
"""
from django.urls import get_resolver

from evalsite.wsgi import application  # noqa: F401  (what gunicorn serves)

get_resolver().url_patterns  # noqa: B018  (the import is the point)
