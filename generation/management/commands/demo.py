"""Set up the demo: two pools made here, an open survey comparing them, and a researcher login."""
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from generation.demo_images import demo_pool_images
from generation.models import ImagePool
from generation.services import pool_import
from surveys import services as survey_services
from surveys.models import Survey

DEMO_POOLS = [
    ("demo-reference", "reference", ImagePool.Kind.REAL),
    ("demo-blocky", "blocky", ImagePool.Kind.GENERATED),
]
DEMO_SURVEY = "Demo: reference vs blocky"


class Command(BaseCommand):
    help = "Create the demo pools, survey and researcher login (idempotent), and print how to reach them."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--images", type=int, default=24, help="Images per demo pool.")
        parser.add_argument("--trials", type=int, default=8, help="Trials per participant.")
        parser.add_argument("--username", default="researcher")
        parser.add_argument("--password", help="Researcher password; a new random one is made if omitted.")

    def handle(self, *args, **options):
        pools = [self._pool(name, variant, kind, options["images"]) for name, variant, kind in DEMO_POOLS]
        survey = Survey.objects.filter(name=DEMO_SURVEY).first() or survey_services.survey_create(
            name=DEMO_SURVEY, pools=pools, trials_per_participant=options["trials"]
        )
        survey_services.survey_open(survey=survey)
        password = self._researcher(options["username"], options["password"])
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS("\nevalsite demo is ready.\n"))
        self.stdout.write(f"  Take the survey:     {base}/s/{survey.slug}/")
        self.stdout.write(f"  Researcher pages:    {base}/r/   (results: {base}/r/surveys/{survey.pk}/results/)")
        self.stdout.write(f"  Researcher login:    {options['username']} / {password}\n")

    def _pool(self, name: str, variant: str, kind: str, count: int) -> ImagePool:
        existing = ImagePool.objects.filter(name=name).first()
        if existing:
            return existing
        provenance = {"model_family": "demo-procedural"} if kind == ImagePool.Kind.GENERATED else None
        report = pool_import(name=name, source=demo_pool_images(variant, count), kind=kind, provenance=provenance)
        self.stdout.write(f"Made pool {name}: {len(report.imported)} images.")
        return report.pool

    def _researcher(self, username: str, password: str | None) -> str:
        password = password or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
