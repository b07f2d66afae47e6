"""LaTeX for the results tables: escaping any text so pdflatex typesets it as written, and booktabs tables.

Pure Python: the rendered text needs only the ``booktabs`` package beside LaTeX's kernel.
"""
import re
import unicodedata
from collections.abc import Sequence

# Characters LaTeX reads as commands, and ASCII that the default (OT1) font encoding prints as something else.
_ASCII_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "[": "{[}",  # a cell opening with [ after \\ would be read as the row's optional argument
    "]": "{]}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}

# Non-ASCII that appears in results (dashes, ≈ in group names, HYPE∞) and in labels, as kernel commands.
_UNICODE = {
    "–": "--",
    "—": "---",
    "−": "$-$",
    "∞": r"$\infty$",
    "≈": r"$\approx$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "÷": r"$\div$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≠": r"$\neq$",
    "→": r"$\rightarrow$",
    "←": r"$\leftarrow$",
    "·": r"$\cdot$",
    "°": r"$^{\circ}$",
    "µ": r"$\mu$",
    "μ": r"$\mu$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
    "λ": r"$\lambda$",
    "σ": r"$\sigma$",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "•": r"\textbullet{}",
    "§": r"\S{}",
    "¶": r"\P{}",
    "©": r"\copyright{}",
    "£": r"\pounds{}",
    "ß": r"\ss{}",
    "æ": r"\ae{}",
    "Æ": r"\AE{}",
    "œ": r"\oe{}",
    "Œ": r"\OE{}",
    "ø": r"\o{}",
    "Ø": r"\O{}",
    "ł": r"\l{}",
    "Ł": r"\L{}",
    "ı": r"\i{}",
    "¡": r"\textexclamdown{}",
    "¿": r"\textquestiondown{}",
    "\u00a0": "~",  # no-break space
    "\u2009": r"\,",  # thin space
    "\u202f": r"\,",  # narrow no-break space
}

# Combining marks (after Unicode decomposition) as LaTeX accent commands: é = e + U+0301 → \'{e}.
_ACCENTS = {
    "\u0300": "\\`",
    "\u0301": "\\'",
    "\u0302": "\\^",
    "\u0303": "\\~",
    "\u0304": "\\=",
    "\u0306": "\\u",
    "\u0307": "\\.",
    "\u0308": '\\"',
    "\u030a": "\\r",
    "\u030b": "\\H",
    "\u030c": "\\v",
    "\u0327": "\\c",
}

UNTYPESETTABLE = "?"  # what a character with no pdflatex rendering here (e.g. CJK) becomes


def escape(text) -> str:
    """``text`` as LaTeX source that pdflatex prints as the same characters."""
    text = str(text)
    return "".join(_escape_char(char, following) for char, following in zip(text, text[1:] + " "))


def _escape_char(char: str, following: str) -> str:
    if char == "-" and following == "-":
        return "-{}"  # keeps "--" two hyphens rather than an en dash
    if char in _ASCII_SPECIALS:
        return _ASCII_SPECIALS[char]
    if char.isascii():
        return char if char.isprintable() else ""
    return _UNICODE.get(char) or _accented(char) or UNTYPESETTABLE


def _accented(char: str) -> str | None:
    """A Latin letter with accents as accent commands (ü → \\"{u}); None for anything else."""
    base, *marks = unicodedata.normalize("NFD", char)
    if not (base.isascii() and base.isalpha() and marks and all(mark in _ACCENTS for mark in marks)):
        return None
    rendered = base
    for mark in marks:
        rendered = f"{_ACCENTS[mark]}{{{rendered}}}"
    return rendered


def column_spec(numeric: Sequence[bool]) -> str:
    """Left-aligned text columns, right-aligned numbers."""
    return "".join("r" if is_numeric else "l" for is_numeric in numeric)


def tabular_row(cells: Sequence) -> str:
    return " & ".join(escape(cell) for cell in cells) + r" \\"


def label(*parts: str) -> str:
    """A ``\\label`` key from ``parts`` (survey slug, section): letters, digits and hyphens only."""
    return "tab:" + "-".join(re.sub(r"[^A-Za-z0-9]+", "-", part).strip("-") for part in parts)


def table(*, caption: str, key: str, headers: Sequence[str], numeric: Sequence[bool], rows: Sequence[Sequence],
          notes: Sequence[str] = ()) -> str:
    """One ``table`` float: caption and label above a booktabs tabular, notes in small type below it."""
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{escape(caption)}}}",
        rf"\label{{{key}}}",
        rf"\begin{{tabular}}{{{column_spec(numeric)}}}",
        r"\toprule",
        tabular_row(headers),
        r"\midrule",
        *(tabular_row(row) for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
        *_notes(notes),
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _notes(notes: Sequence[str]) -> list[str]:
    if not notes:
        return []
    return [r"\par\smallskip", r"{\footnotesize\raggedright", *(escape(note) + r"\par" for note in notes), "}"]
