"""Prepare a fresh database for the load benchmark and the fault tests: migrate it, fill two small pools, open a survey.

Run in its own process by bench/load_stack.py (``prepare_database``), with DATABASE_URL, EVALSITE_MEDIA_ROOT and
the rest of the server's environment already set, so that it writes exactly where the gunicorn server will read:

    python bench/load_setup.py --trials 20 [--ceiling-table]

Prints one JSON line: {"slug": ..., "kind": ..., "trials": ...}. The survey is pairwise (a real pool against a
generated one), untimed, with no extra phases: every trial is answered "left" or "right".
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The bare-insert table of the ceiling measurement (bench/load_urls.py); it exists only in the benchmark's database.
CEILING_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_ceiling (
    id bigserial PRIMARY KEY,
    run text NOT NULL,
    client integer NOT NULL,
    sent integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
IMAGES_PER_POOL = 12


def png_bytes(seed: int, size: int = 32) -> bytes:
    """A small PNG of random pixels: every seed gives distinct content (the pool import refuses duplicates)."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def create_survey(trials: int):
    from generation.services import pool_import
    from surveys import services

    pools = [
        pool_import(name=f"load-{kind}", kind=kind,
                    source=[(f"{kind}_{i:03d}.png", png_bytes(seed=offset + i)) for i in range(IMAGES_PER_POOL)]).pool
        for offset, kind in ((0, "real"), (1000, "generated"))
    ]
    survey = services.survey_create(name="load", pools=pools, kind="pairwise", trials_per_participant=trials)
    return services.survey_open(survey=survey)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="main trials per participant")
    parser.add_argument("--ceiling-table", action="store_true", help="also create the bare-insert table")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    if args.ceiling_table:
        with connection.cursor() as cursor:
            cursor.execute(CEILING_TABLE_SQL)
    survey = create_survey(args.trials)
    print(json.dumps({"slug": survey.slug, "kind": survey.kind, "trials": survey.trials_per_participant}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
