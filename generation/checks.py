"""Start-up checks: missing image support is reported by `manage.py check`, not at the first import."""
from django.conf import settings
from django.core.checks import Error, Warning, register
from PIL import Image, ImageFile, features

REQUIRED_FEATURES = {"webp": "WebP images", "littlecms2": "colour profiles (ICC)", "zlib": "PNG images"}


@register()
def check_image_support(app_configs=None, **kwargs):
    problems = [
        Error(f"Pillow was built without {feature}: {what} cannot be imported.", id="generation.E001")
        for feature, what in REQUIRED_FEATURES.items()
        if not features.check(feature)
    ]
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        message = "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: pool imports would refuse to run."
        problems.append(Error(message, hint="Do not set it in this process.", id="generation.E002"))
    if Image.MAX_IMAGE_PIXELS and settings.EVALSITE_MAX_IMAGE_PIXELS > 2 * Image.MAX_IMAGE_PIXELS:
        message = "EVALSITE_MAX_IMAGE_PIXELS is above Pillow's own limit, which applies first."
        hint = f"Pillow refuses images over {2 * Image.MAX_IMAGE_PIXELS:,} pixels."
        problems.append(Warning(message, hint=hint, id="generation.W001"))
    return problems
