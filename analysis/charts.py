"""Charts: plotly figures for the researcher pages, and plotly.js itself served from the installed
package (no CDN: the platform runs where nothing outside can be reached)."""
from functools import cache

import plotly
from plotly.offline import get_plotlyjs


@cache
def plotly_js() -> bytes:
    return get_plotlyjs().encode("utf-8")


def plotly_version() -> str:
    return plotly.__version__
