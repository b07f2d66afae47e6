from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from generation.models import Checkpoint, ImagePool, PoolImage, PoolImport, TrainingRun


def _thumbnail(image: PoolImage) -> str:
    url = reverse("generation:image", kwargs={"public_id": image.public_id})
    return format_html('<img src="{}" width="64" height="64" style="object-fit:cover" alt="">', url)


class PoolImageInline(admin.TabularInline):
    # Images come only from imports, which check and re-encode them: never added or edited by hand.
    model = PoolImage
    fields = readonly_fields = ("preview", "source_name", "width", "height", "public_id", "sha256")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Image")
    def preview(self, obj):
        return _thumbnail(obj)


@admin.register(ImagePool)
class ImagePoolAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "image_count", "model_family", "iteration", "training_hours", "created_at")
    list_filter = ("kind", "model_family")
    search_fields = ("name", "description", "checkpoint", "fingerprint")
    readonly_fields = ("fingerprint", "created_by", "created_at")
    inlines = [PoolImageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(image_count=Count("images"))

    @admin.display(description="Images", ordering="image_count")
    def image_count(self, obj):
        return obj.image_count


@admin.register(PoolImage)
class PoolImageAdmin(admin.ModelAdmin):
    list_display = ("public_id", "preview", "pool", "source_name", "width", "height")
    list_filter = ("pool",)
    list_select_related = ("pool",)
    search_fields = ("public_id", "source_name", "sha256", "pool__name")
    readonly_fields = ("preview", "pool", "public_id", "file", "sha256", "width", "height", "source_name")

    def has_add_permission(self, request):
        return False

    @admin.display(description="Image")
    def preview(self, obj):
        return _thumbnail(obj)


@admin.register(PoolImport)
class PoolImportAdmin(admin.ModelAdmin):
    list_display = (
        "pool_name", "kind", "status", "files_done", "files_total", "created_by", "created_at", "finished_at"
    )
    list_filter = ("status", "kind")
    search_fields = ("pool_name", "error")
    readonly_fields = [f.name for f in PoolImport._meta.fields]

    def has_add_permission(self, request):
        return False


class CheckpointInline(admin.TabularInline):
    # Checkpoints are recorded by the training loop, never made by hand.
    model = Checkpoint
    fields = readonly_fields = ("iteration", "images_seen", "training_seconds", "path", "created_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("name", "family", "dataset", "status", "iteration", "iterations", "training_hours", "created_at")
    list_filter = ("family", "status")
    search_fields = ("name", "dataset", "error")
    readonly_fields = [f.name for f in TrainingRun._meta.fields if f.name not in ("name",)]
    inlines = [CheckpointInline]

    def has_add_permission(self, request):
        return False  # runs start from the "Train a model" page or manage.py train
