import pytest

from generation.datasets.bundled import BUNDLED, bundled_path


@pytest.fixture(scope="session")
def bundled_cache(tmp_path_factory):
    """Every bundled set built once per test session into one cache folder."""
    cache = tmp_path_factory.mktemp("bundled-cache")
    for name in BUNDLED:
        bundled_path(name, cache)
    return cache
