"""Image pools: the sets of images (real, generated or imported) that surveys compare."""
import secrets

from django.conf import settings
from django.db import models


def new_public_id() -> str:
    """An opaque, unguessable id: the only name of an image a participant's browser ever sees."""
    return secrets.token_urlsafe(16)


class ImagePool(models.Model):
    class Kind(models.TextChoices):
        REAL = "real", "Real"
        GENERATED = "generated", "Generated"
        IMPORTED = "imported", "Imported"

    name = models.CharField(max_length=200, unique=True, help_text="Researcher-facing; never shown to participants.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    obviously_bad = models.BooleanField(
        default=False, help_text="Images anyone would call fake at a glance: usable for attention checks, never as an arm."
    )
    # Provenance of generated pools; empty for imported and real ones.
    model_family = models.CharField(max_length=100, blank=True, help_text="e.g. dcgan, progressive, dcgan+srcnn, crn, simgan")
    checkpoint = models.CharField(max_length=500, blank=True, help_text="Checkpoint the images were sampled from.")
    iteration = models.PositiveBigIntegerField(null=True, blank=True, help_text="Training iteration of the checkpoint.")
    training_seconds = models.FloatField(null=True, blank=True, help_text="Wall-clock training time of the checkpoint.")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Sampling seed.")
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="sha256 over the sorted sha256 of the pool's images: identifies its content."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def training_hours(self) -> float | None:
        return None if self.training_seconds is None else self.training_seconds / 3600


def pool_image_path(instance: "PoolImage", filename: str) -> str:
    # The stored name is the opaque id alone: the original file name stays in source_name.
    return f"pool_images/{instance.public_id}.png"


class PoolImage(models.Model):
    pool = models.ForeignKey(ImagePool, related_name="images", on_delete=models.CASCADE)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    file = models.FileField(upload_to=pool_image_path)
    sha256 = models.CharField(max_length=64, help_text="sha256 of the stored (re-encoded) PNG.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    source_name = models.CharField(max_length=500, blank=True, help_text="Original file name; researcher-only.")
    seed = models.BigIntegerField(
        null=True, blank=True, help_text="Generated pools: the seed this image was sampled from (it reproduces it)."
    )

    class Meta:
        ordering = ["pool", "id"]
        constraints = [models.UniqueConstraint(fields=["pool", "sha256"], name="pool_image_unique_content")]

    def __str__(self):
        return f"{self.pool.name}/{self.source_name or self.public_id}"


class PoolImport(models.Model):
    """One import of a folder, zip or upload into a new pool; tracks progress and the report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    pool_name = models.CharField(max_length=200)
    generate = models.JSONField(
        default=dict,
        blank=True,
        help_text="Set when the pool is sampled from a training run's checkpoint instead of uploaded: "
        "run, checkpoint, images, seed and the optional super-resolution run.",
    )
    kind = models.CharField(max_length=20, choices=ImagePool.Kind.choices, default=ImagePool.Kind.IMPORTED)
    skip_bad = models.BooleanField(default=False)
    upload = models.FileField(upload_to="uploads/", blank=True, help_text="The uploaded zip or image, deleted after import.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="Imported, duplicate and rejected files, with reasons.")
    error = models.TextField(blank=True)
    pool = models.ForeignKey(ImagePool, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"import of {self.pool_name} ({self.status})"


class TrainingRun(models.Model):
    """One training of a bundled model; its files (options, stats, samples, checkpoints) live in ``run_dir``."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    name = models.CharField(max_length=200, unique=True, help_text="Researcher-facing name of the run.")
    family = models.CharField(max_length=20, help_text="dcgan, progressive, srcnn, crn or simgan.")
    dataset = models.CharField(max_length=500, help_text='"bundled:<name>" or a folder on the worker.')
    options = models.JSONField(help_text="Every training option (TrainOptions), as the run's options.json holds them.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    iterations = models.PositiveBigIntegerField(help_text="Generator iterations to train for.")
    iteration = models.PositiveBigIntegerField(default=0, help_text="Iterations done so far.")
    images_seen = models.PositiveBigIntegerField(default=0)
    training_seconds = models.FloatField(default=0, help_text="Wall-clock training time, summed over resumes.")
    its_per_s = models.FloatField(null=True, blank=True, help_text="Recent training speed.")
    losses = models.JSONField(default=dict, blank=True, help_text="The latest logged losses.")
    latest_sample = models.CharField(max_length=500, blank=True, help_text="Latest sample grid, relative to run_dir.")
    notes = models.JSONField(default=list, blank=True, help_text="Warnings the run raised, e.g. a random-weight VGG.")
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    run_dir = models.CharField(max_length=500, blank=True, help_text="Folder of the run's files on the worker.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    @property
    def training_hours(self) -> float:
        return self.training_seconds / 3600

    @property
    def fraction_done(self) -> float:
        return min(1.0, self.iteration / self.iterations) if self.iterations else 0.0

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class Checkpoint(models.Model):
    """A saved training state of a run: what a pool is sampled from."""

    run = models.ForeignKey(TrainingRun, related_name="checkpoints", on_delete=models.CASCADE)
    iteration = models.PositiveBigIntegerField()
    images_seen = models.PositiveBigIntegerField()
    training_seconds = models.FloatField(help_text="Wall-clock training time up to this checkpoint.")
    path = models.CharField(max_length=500, help_text="The checkpoint file on the worker.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "iteration"]
        constraints = [models.UniqueConstraint(fields=["run", "iteration"], name="checkpoint_unique_iteration")]

    def __str__(self):
        return f"{self.run.name} @ {self.iteration}"

    @property
    def training_hours(self) -> float:
        return self.training_seconds / 3600
