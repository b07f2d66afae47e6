"""``--owner USERNAME`` for the commands that create surveys, pools and training runs.

On the researcher pages a researcher sees only what they own (a superuser sees everything), so what a
command creates for someone must name them; without --owner it belongs to no one and only superusers
see it.
"""
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

OWNER_HELP = ("Username of the researcher who owns what this command creates; without it, only superusers "
              "see it on the researcher pages.")


def add_owner_argument(parser) -> None:
    parser.add_argument("--owner", metavar="USERNAME", help=OWNER_HELP)


def owner_from_options(options: dict):
    """The user named by --owner, or None when it is not given; a CommandError names an unknown user."""
    username = options.get("owner")
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}: create the researcher first (manage.py createsuperuser, "
                           "or the admin pages).")
    return user
