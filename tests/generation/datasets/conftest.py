import pytest

from generation.datasets.bundled import BUNDLED, bundled_path


@pytest.fixture(scope="session")
def bundled_cache(datasets_dir):
    """Every bundled set built once per test session, into the cache folder all tests share."""
    cache = datasets_dir
    for name in BUNDLED:
        bundled_path(name, cache)
    return cache
