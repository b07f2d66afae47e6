"""The Japanese catalogue is complete and its compiled .mo is what the .po says."""
import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "ja" / "LC_MESSAGES"


def _po_entries(text: str) -> list[dict]:
    entries = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            match = re.match(r'^(msgid_plural|msgid|msgstr\[\d+\]|msgstr) "(.*)"$', line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            entries.append({"fuzzy": "#, fuzzy" in block, **{k: v.encode().decode("unicode_escape").encode("latin-1").decode()
                                                                 for k, v in fields.items()}})
    return entries


@pytest.fixture(scope="module")
def entries():
    return _po_entries((LOCALE / "django.po").read_text(encoding="utf-8"))


def test_every_message_is_translated_and_none_is_fuzzy(entries):
    assert entries
    for entry in entries:
        assert not entry["fuzzy"], entry["msgid"]
        translations = [v for k, v in entry.items() if k.startswith("msgstr")]
        assert translations and all(translations), entry["msgid"]


def test_compiled_catalogue_matches_the_po(entries):
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for entry in entries:
        if "msgid_plural" in entry:
            assert catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 2) == entry["msgstr[0]"]
        else:
            assert catalogue.gettext(entry["msgid"]) == entry["msgstr"], "run `make messages` after editing the .po"
