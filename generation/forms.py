import zipfile
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from generation import selectors
from generation.imaging import EXTENSIONS
from generation.models import ImagePool

IMAGE_ACCEPT = ",".join(sorted(EXTENSIONS)) + ",image/png,image/jpeg,image/webp"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's FileField takes one file; this one takes a list (possibly empty when not required)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in data if f] if isinstance(data, (list, tuple)) else [data] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class PoolImportForm(forms.Form):
    name = forms.CharField(
        max_length=200, label="Pool name", help_text="Researcher-facing; never shown to participants."
    )
    kind = forms.ChoiceField(choices=ImagePool.Kind.choices, initial=ImagePool.Kind.IMPORTED)
    skip_bad = forms.BooleanField(
        required=False,
        label="Skip bad files",
        help_text="Import the valid images and list the bad ones, instead of importing nothing.",
    )
    archive = forms.FileField(
        required=False,
        label="A zip file",
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
    )
    images = MultipleFileField(
        required=False,
        label="… or image files",
        help_text="PNG, JPEG or WebP; select several at once.",
        widget=MultipleFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if selectors.pool_name_taken(name=name):
            raise forms.ValidationError(f'A pool named "{name}" already exists; choose another name.')
        return name

    def clean_archive(self):
        archive = self.cleaned_data.get("archive")
        if archive and (PurePath(archive.name).suffix.lower() != ".zip" or not zipfile.is_zipfile(archive)):
            raise forms.ValidationError(f"{archive.name}: not a zip file.")
        return archive

    def clean(self):
        cleaned = super().clean()
        archive, images = cleaned.get("archive"), cleaned.get("images") or []
        if bool(archive) == bool(images) and not self.errors:
            raise forms.ValidationError("Choose either one zip file or some image files.")
        self._check_upload_size([archive] if archive else images)
        return cleaned

    def _check_upload_size(self, files) -> None:
        limit = settings.EVALSITE_MAX_UPLOAD_BYTES
        if sum(f.size for f in files) > limit:
            raise forms.ValidationError(f"The upload exceeds the limit of {filesizeformat(limit)}.")
