"""The LaTeX export: escaping, the shape of every table, and (where pdflatex is installed) a real compile."""
import re
import shutil
import subprocess
import unicodedata

import pytest

from analysis import exports, latex, tables
from generation.models import ImagePool
from surveys.models import Participant, Response, Trial
from tests.analysis.conftest import answer_pairs, make_survey
from tests.analysis.report_frames import with_every_table, with_no_new_table
from tests.conftest import in_ci

SPECIAL_LABEL = r"GAN_v2 & 50% {test} #1 ~x^2 \path"
UNICODE_TEXT = "a–b — ∞ ≈ ± × ≤ µ 25 °C résumé Ünïcode ç ő ß ø Łódź “q” … [x]"


# A reader for the LaTeX this module writes: what pdflatex would print, as text. It is the test's
# own oracle, written from LaTeX's rules rather than from latex.py's tables.
_WORDS = {"textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^", "textless": "<", "textgreater": ">",
          "textbar": "|", "ldots": "…", "ss": "ß", "o": "ø", "O": "Ø", "l": "ł", "L": "Ł", "ae": "æ", "oe": "œ"}
_MATH = {r"\infty": "∞", r"\approx": "≈", r"\pm": "±", r"\times": "×", r"\leq": "≤", r"\geq": "≥", r"\mu": "µ",
         "-": "−", r"^{\circ}": "°"}
_ACCENT_MARKS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", "=": "\u0304",
                 ".": "\u0307", "c": "\u0327", "H": "\u030b", "v": "\u030c", "r": "\u030a", "u": "\u0306"}
_TOKEN = re.compile(
    r"\$(?P<math>[^$]*)\$"
    r"|\\(?P<accent>[cHvru'`\"^~=.])\{(?P<letter>[A-Za-z])\}"
    r"|\\(?P<word>[A-Za-z]+)\{\}"
    r"|\\(?P<symbol>[^A-Za-z])"
    r"|(?P<ligature>---|--|``|'')"
    r"|(?P<brace>[{}])"
    r"|(?P<char>.)",
    re.S,
)
_LIGATURES = {"---": "—", "--": "–", "``": "“", "''": "”"}


def typeset(source: str) -> str:
    printed = []
    for token in _TOKEN.finditer(source):
        kind = token.lastgroup if token.lastgroup != "letter" else "accent"
        if kind == "math":
            printed.append(_MATH[token["math"]])
        elif kind == "accent":
            printed.append(token["letter"] + _ACCENT_MARKS[token["accent"]])
        elif kind == "word":
            printed.append(_WORDS[token["word"]])
        elif kind == "symbol":
            printed.append(token["symbol"])
        elif kind == "ligature":
            printed.append(_LIGATURES[token["ligature"]])
        elif kind == "char":
            printed.append(token["char"])
    return unicodedata.normalize("NFC", "".join(printed))


# Structure checks.


def uncommented(source: str) -> str:
    return re.sub(r"(?<!\\)%.*", "", source)


def brace_depths(source: str) -> list[int]:
    """The group depth after each brace; escaped braces (\\{ \\}) and control words do not count."""
    depths, depth, i = [], 0, 0
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] in "{}":
            depth += 1 if source[i] == "{" else -1
            depths.append(depth)
        i += 1
    return depths


def environments_balance(source: str) -> bool:
    stack = []
    for command, name in re.findall(r"\\(begin|end)\{([^}]*)\}", source):
        if command == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def tabulars(source: str) -> list[tuple[str, list[str]]]:
    """(column spec, row lines) of every tabular."""
    found = re.findall(r"\\begin\{tabular\}\{([^}]*)\}\n(.*?)\\end\{tabular\}", source, re.S)
    return [(spec, [line for line in body.splitlines() if line.endswith("\\\\")]) for spec, body in found]


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)&", row.removesuffix("\\\\"))]


def spec_columns(spec: str) -> list[str]:
    return re.findall(r"[lcr]|p\{[^}]*\}", spec)


def labels(source: str) -> list[str]:
    return re.findall(r"\\label\{([^}]*)\}", source)


# Fixtures: real surveys' results, with the newer tables from sample frames.


@pytest.fixture
def special_results(db):
    survey, arms = make_survey("Study #1: 50% & more", [(SPECIAL_LABEL, 0), ("real [photos]", 1), ("plain", 2)])
    person = Participant.objects.create(survey=survey)
    answer_pairs(person, arms, [(SPECIAL_LABEL, "plain", SPECIAL_LABEL),
                                ("real [photos]", SPECIAL_LABEL, SPECIAL_LABEL),
                                ("plain", "real [photos]", "real [photos]")])
    return with_every_table(tables.survey_results(survey=survey), arm=SPECIAL_LABEL)


@pytest.fixture
def known_results(known_survey):
    return with_no_new_table(tables.survey_results(survey=known_survey[0]))


# Escaping.


@pytest.mark.parametrize("char, escaped", [
    ("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("{", r"\{"),
    ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"),
])
def test_each_latex_special_is_escaped(char, escaped):
    assert latex.escape(f"a{char}b") == f"a{escaped}b"


@pytest.mark.parametrize("char, escaped", [
    ("–", "--"), ("—", "---"), ("∞", r"$\infty$"), ("≈", r"$\approx$"), ("±", r"$\pm$"), ("×", r"$\times$"),
    ("é", r"\'{e}"), ("ü", r'\"{u}'),
])
def test_non_ascii_becomes_latex_commands(char, escaped):
    assert latex.escape(char) == escaped


@pytest.mark.parametrize("text", [SPECIAL_LABEL, UNICODE_TEXT, "a--b---c", "[leading bracket]", "x < y > z | w"])
def test_escaped_text_prints_as_written(text):
    assert typeset(latex.escape(text)) == text


def test_characters_pdflatex_cannot_print_become_question_marks():
    assert latex.escape("日本 GAN") == "?? GAN"


def test_labels_keep_letters_digits_and_hyphens_only():
    assert latex.label("my-survey_2", "equal training time") == "tab:my-survey-2-equal-training-time"


# The export's structure.


def test_braces_and_environments_balance(special_results):
    source = uncommented(exports.results_latex(special_results))
    depths = brace_depths(source)
    assert min(depths) >= 0 and depths[-1] == 0
    assert environments_balance(source)


def test_every_row_has_as_many_cells_as_its_column_spec(special_results):
    found = tabulars(exports.results_latex(special_results))
    assert len(found) == 8  # results, ranking, arms, 2 matched, curves, thresholds, HYPE
    for spec, rows in found:
        assert rows, spec
        for row in rows:
            assert len(cells(row)) == len(spec_columns(spec)), row


def test_every_table_has_booktabs_rules_a_caption_and_a_label(special_results):
    source = exports.results_latex(special_results)
    floats = re.findall(r"\\begin\{table\}.*?\\end\{table\}", source, re.S)
    assert len(floats) == 8
    for table in floats:
        assert [line for line in table.splitlines() if line.endswith("rule")] == [r"\toprule", r"\midrule",
                                                                                   r"\bottomrule"]
        assert table.count(r"\caption{") == 1 and table.count(r"\label{tab:") == 1


def test_the_special_arm_label_is_escaped_in_every_table_and_reads_back(special_results):
    source = exports.results_latex(special_results)
    escaped = latex.escape(SPECIAL_LABEL)
    assert escaped == (r"GAN\_v2 \& 50\% \{test\} \#1 \textasciitilde{}x\textasciicircum{}2 \textbackslash{}path")
    first_cells = [cells(row)[0] for _, rows in tabulars(source) for row in rows[1:]]
    assert escaped in first_cells
    assert sum(escaped in row for _, rows in tabulars(source) for row in rows) == 11
    assert SPECIAL_LABEL not in source  # never raw
    assert typeset(escaped) == SPECIAL_LABEL


def test_numbers_are_right_aligned_and_text_left(special_results):
    source = exports.results_latex(special_results)
    specs = dict(zip(labels(source), (spec for spec, _ in tabulars(source))))
    slug = special_results.summary["survey_slug"]
    assert specs[f"tab:{slug}-results"] == "llrrrrrrrr"
    assert specs[f"tab:{slug}-ranking"] == "rllrrr"
    assert specs[f"tab:{slug}-hype"] == "llrrrr"
    assert specs[f"tab:{slug}-thresholds"] == "llrrrrlr"


def test_captions_carry_the_method_escaped(special_results):
    source = exports.results_latex(special_results)
    captions = re.findall(r"\\caption\{(.*)\}$", source, re.M)
    assert captions[0].startswith(r"Study \#1: 50\% \& more: Pairwise results. Selection rate of arm A")
    assert "Clopper--Pearson" in captions[0] and "–" not in source.split("\n", 3)[3]
    hype_caption = next(caption for caption in captions if "HYPE scores" in caption)
    assert r"HYPE$\infty$: share of wrong answers" in hype_caption and r"HYPE\_time: modal staircase" in hype_caption


def test_notes_under_the_tables_say_what_was_left_out_and_why_a_fit_failed(special_results):
    source = exports.results_latex(special_results)
    assert "Left out: 0 responses from 0 participants ---" in source
    assert "flat (real preferred): every trial succeeded at every exposure: nothing to fit" in source


def test_header_names_the_package_the_survey_and_the_software(special_results):
    header = exports.results_latex(special_results).split("\n\n")[0].splitlines()
    assert all(line.startswith("% ") for line in header)
    text = "\n".join(header)
    assert r"\usepackage{booktabs}" in text
    assert special_results.summary["survey_slug"] in text and "Study #1: 50% & more" in text
    assert f"{special_results.summary['generated_at']:%Y-%m-%d %H:%M:%S} UTC" in text
    assert "django " in text and "pandas " in text


def test_sections_follow_the_data(special_results, known_results):
    slug = special_results.summary["survey_slug"]
    assert labels(exports.results_latex(special_results)) == [
        f"tab:{slug}-{section}" for section in
        ["results", "ranking", "arms", "equal-iterations", "equal-training-time", "exposure-curves", "thresholds",
         "hype"]
    ]
    known_slug = known_results.summary["survey_slug"]
    assert labels(exports.results_latex(known_results)) == [f"tab:{known_slug}-{s}" for s in ["results", "ranking",
                                                                                              "arms"]]


def test_tables_show_display_values(special_results):
    source = exports.results_latex(special_results)
    assert r"6,000 iterations & multi-stage & progressive & 6,000 & 75.20 & 300 & 50.8 \% & 45.0--56.6 \% \\" in source
    assert r"$\approx$ 75.60 h" in source
    assert r"HYPE\_time & " + latex.escape(SPECIAL_LABEL) + r" & 368 ms & 310--1,421 ms & 10 & 300 \\" in source
    assert r"flat & generated & --- & --- & --- & 50.0 \% & no & 0 \\" in source


# A real compile.

PDFLATEX = shutil.which("pdflatex")
DOCUMENT = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{export}\n\\end{document}\n"


@pytest.fixture
def pdflatex():
    if PDFLATEX is None:
        reason = ("pdflatex is not installed (apt-get install --no-install-recommends texlive-latex-base "
                  "texlive-latex-recommended); .ci/run installs it")
        if in_ci():
            pytest.fail(f"the LaTeX compile test must run under CI: {reason}")
        pytest.skip(reason)
    return PDFLATEX


def compile_log(pdflatex: str, folder, export: str) -> str:
    (folder / "export.tex").write_text(export, encoding="utf-8")
    (folder / "paper.tex").write_text(DOCUMENT, encoding="utf-8")
    done = subprocess.run([pdflatex, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", "paper.tex"],
                          cwd=folder, capture_output=True, timeout=120, check=False)
    log = (folder / "paper.log").read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (folder / "paper.pdf").stat().st_size > 0
    return log


def test_export_with_every_table_and_special_characters_compiles(pdflatex, special_results, tmp_path):
    log = compile_log(pdflatex, tmp_path, exports.results_latex(special_results))
    assert "Missing character" not in log


def test_every_character_the_escaper_knows_compiles(pdflatex, tmp_path):
    known = "".join(latex._UNICODE) + "".join(latex._ASCII_SPECIALS) + "é è ê ë ã ā ă ż å ő ň ç 日本"
    export = "\n".join([latex.escape(known), latex.escape(UNICODE_TEXT), latex.escape(SPECIAL_LABEL)]) + "\n"
    log = compile_log(pdflatex, tmp_path, export)
    assert "Missing character" not in log


def test_real_fake_export_with_hype_compiles(pdflatex, db, tmp_path):
    survey, _ = make_survey("vtt ∞", [("photos", 0), ("refined_v2", 1)])
    survey.kind = "real_fake"
    survey.save()
    results = with_every_table(tables.survey_results(survey=survey), arm="refined_v2")
    source = exports.results_latex(results)
    assert "Real or generated" in source and labels(source)[0].endswith("-results")
    compile_log(pdflatex, tmp_path, source)


def _judge(participant, arm, choice: str, exposure_ms: float) -> None:
    trial = Trial.objects.create(participant=participant, position=participant.trials.count(), left_arm=arm,
                                 left_image=arm.pool.images.first(), exposure_ms=exposure_ms,
                                 expected_choice="real" if arm.pool.kind == ImagePool.Kind.REAL else "generated")
    Response.objects.create(trial=trial, choice=choice, correct=choice == trial.expected_choice, reaction_time_ms=900.0)


@pytest.fixture
def timed_real_fake_results(db):
    """A timed real/fake survey whose tables are all computed by tables.py: curves, thresholds, HYPE, matched."""
    survey, arms = make_survey("timed vtt", [("photos", 0), ("gan_v2 & co", 1), ("vae 50%", 2)])
    ImagePool.objects.filter(pk=arms["photos"].pool_id).update(kind=ImagePool.Kind.REAL)
    ImagePool.objects.filter(pk__in=[arms["gan_v2 & co"].pool_id, arms["vae 50%"].pool_id]).update(
        kind=ImagePool.Kind.GENERATED, model_family="dcgan", iteration=6000, training_seconds=3600)
    survey.kind = "real_fake"
    survey.protocol = {"exposures_ms": [250, 1000]}
    survey.save()
    arms = {arm.label: arm for arm in survey.arms.select_related("pool")}
    for person in [Participant.objects.create(survey=survey) for _ in range(3)]:
        for exposure, right_share in ((250, 2), (1000, 3)):
            for label, truth in (("photos", "real"), ("gan_v2 & co", "generated"), ("vae 50%", "generated")):
                wrong = "generated" if truth == "real" else "real"
                for i in range(4):
                    _judge(person, arms[label], truth if i < right_share else wrong, exposure)
    return tables.survey_results(survey=survey)


def test_tables_computed_from_answers_all_export(timed_real_fake_results):
    source = exports.results_latex(timed_real_fake_results)
    slug = timed_real_fake_results.summary["survey_slug"]
    assert labels(source) == [f"tab:{slug}-{section}" for section in
                              ["results", "equal-iterations", "equal-training-time", "exposure-curves", "thresholds",
                               "hype"]]
    for spec, rows in tabulars(source):
        assert all(len(cells(row)) == len(spec_columns(spec)) for row in rows)
    assert r"gan\_v2 \& co" in source and r"vae 50\%" in source


def test_tables_computed_from_answers_compile(pdflatex, timed_real_fake_results, tmp_path):
    compile_log(pdflatex, tmp_path, exports.results_latex(timed_real_fake_results))
