"""Set up the demo: a real pool, pools sampled from the shipped demo checkpoints, an open survey
comparing them, and a researcher login."""
import io
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from PIL import Image

from generation.demo_images import demo_pool_images
from generation.demo_models import DEMO_MODELS
from generation.models import ImagePool
from generation.run_services import demo_run_install, pool_generate, sampling_plan
from generation.services import pool_import
from surveys import services as survey_services
from surveys.models import Survey
from surveys.protocol import preset_protocol

DEMO_SURVEY = "Demo: real photos vs DCGAN vs multi-stage GAN"
# A second demo: the timed real-or-generated test (HYPE_time's staircase, one short block).
TIMED_SURVEY = "Demo: real or generated? (adaptive exposure, HYPE_time style)"
TIMED_TRIALS = 30
REAL_POOL = "demo: real photos (32 px)"
# Pools sampled for the survey: (pool name, demo model key, SRCNN demo model key or None).
SAMPLED_POOLS = (
    ("demo: DCGAN (32 px)", "dcgan-photos-32", None),
    ("demo: multi-stage GAN (32 px)", "progressive-photos-32", None),
    ("demo: DCGAN+SRCNN (64 px)", "dcgan-photos-32", "srcnn-photos-x2"),
)
SURVEY_POOLS = (REAL_POOL, "demo: DCGAN (32 px)", "demo: multi-stage GAN (32 px)")
# Without the shipped checkpoints (a trimmed checkout) the demo falls back to procedural pools.
FALLBACK_POOLS = (("demo-reference", "reference", ImagePool.Kind.REAL), ("demo-blocky", "blocky", ImagePool.Kind.GENERATED))
FALLBACK_SURVEY = "Demo: reference vs blocky"


class Command(BaseCommand):
    help = (
        "Create the demo (idempotent): a pool of real photos, the pretrained demo models as finished training "
        "runs, pools sampled from them, an open survey and a researcher login; print how to reach them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--images", type=int, default=24, help="Images per demo pool.")
        parser.add_argument("--trials", type=int, default=8, help="Trials per participant.")
        parser.add_argument("--username", default="researcher")
        parser.add_argument("--password", help="Researcher password; a new random one is made if omitted.")

    def handle(self, *args, **options):
        # Made first: everything the demo creates belongs to the demo researcher.
        self.owner, password = self._researcher(options["username"], options["password"])
        if all(model.available for model in DEMO_MODELS):
            name, pools = DEMO_SURVEY, self._model_pools(options["images"])
        else:
            self.stderr.write(self.style.WARNING("Demo checkpoints missing: using procedural demo pools."))
            name, pools = FALLBACK_SURVEY, [self._procedural(*spec, options["images"]) for spec in FALLBACK_POOLS]
        survey = Survey.objects.filter(name=name).first() or survey_services.survey_create(
            name=name, pools=pools, trials_per_participant=options["trials"], created_by=self.owner
        )
        survey_services.survey_open(survey=survey)
        timed = self._timed_survey(pools)
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS("\nevalsite demo is ready.\n"))
        self.stdout.write(f"  Take the survey:     {base}/s/{survey.slug}/")
        self.stdout.write(f"  Timed real or fake:  {base}/s/{timed.slug}/")
        self.stdout.write(f"  Researcher pages:    {base}/r/   (results: {base}/r/surveys/{survey.pk}/results/)")
        self.stdout.write(f"  Training runs:       {base}/r/runs/")
        self.stdout.write(f"  Researcher login:    {options['username']} / {password}\n")

    def _timed_survey(self, pools: list[ImagePool]) -> Survey:
        survey = Survey.objects.filter(name=TIMED_SURVEY).first() or survey_services.survey_create(
            name=TIMED_SURVEY, pools=pools, preset="hype-time", trials_per_participant=TIMED_TRIALS,
            protocol=preset_protocol("hype-time", blocks=1), created_by=self.owner,
        )
        return survey_services.survey_open(survey=survey)

    def _model_pools(self, count: int) -> list[ImagePool]:
        runs = {model.key: demo_run_install(model=model, created_by=self.owner) for model in DEMO_MODELS}
        self._real_photos(count)
        for pool_name, key, srcnn_key in SAMPLED_POOLS:
            if not ImagePool.objects.filter(name=pool_name).exists():
                plan = sampling_plan(run=runs[key], srcnn_run=runs[srcnn_key] if srcnn_key else None)
                report = pool_generate(plan=plan, images=count, name=pool_name, created_by=self.owner)
                self.stdout.write(f"Made pool {pool_name}: {len(report.imported)} images.")
        return [ImagePool.objects.get(name=name) for name in SURVEY_POOLS]

    def _real_photos(self, count: int) -> ImagePool:
        from generation.datasets import bundled_path

        if existing := ImagePool.objects.filter(name=REAL_POOL).first():
            return existing
        folder = bundled_path("photos", Path(settings.EVALSITE_DATASETS_DIR))
        # The last crops of the bundled set, shrunk to the generators' 32 px (the models saw 32 px photos).
        files = sorted(folder.rglob("*.png"))[-count:]
        report = pool_import(name=REAL_POOL, source=[(p.name, _shrunk(p, 32)) for p in files], kind=ImagePool.Kind.REAL,
                             created_by=self.owner)
        self.stdout.write(f"Made pool {REAL_POOL}: {len(report.imported)} images.")
        return report.pool

    def _procedural(self, name: str, variant: str, kind: str, count: int) -> ImagePool:
        if existing := ImagePool.objects.filter(name=name).first():
            return existing
        provenance = {"model_family": "demo-procedural"} if kind == ImagePool.Kind.GENERATED else None
        report = pool_import(name=name, source=demo_pool_images(variant, count), kind=kind, provenance=provenance,
                             created_by=self.owner)
        self.stdout.write(f"Made pool {name}: {len(report.imported)} images.")
        return report.pool

    def _researcher(self, username: str, password: str | None):
        """The demo researcher (a superuser) and their password."""
        password = password or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return user, password


def _shrunk(path: Path, size: int) -> bytes:
    buffer = io.BytesIO()
    with Image.open(path) as image:
        image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()
