"""Welsh and English: one string catalogue (gettext ``.po`` files read with Babel) and locale formatting.

Every string a published report shows is an English message looked up in
``locale/<lang>/LC_MESSAGES/longitudinal.po``. English is the source language, so
its catalogue may leave an entry blank (the message itself is shown); the Welsh
catalogue must have every entry: a message without a Welsh entry is an error
(:class:`MissingTranslation`), never English silently on a Welsh page.

The ``.po`` files are package data and are read at run time (no compiled ``.mo``
to keep in step), so an installed wheel translates as a checkout does.

Examples
--------
>>> from longitudinal.i18n import Translator
>>> cy = Translator("cy")
>>> cy("Key points")
'Prif bwyntiau'
>>> cy.area("Cardiff"), cy.area("Wales")
('Caerdydd', 'Cymru')
>>> cy.number(6982208), cy.number(0.5, 2), cy.number(-0.001, 2)
('6,982,208', '0.50', '0.00')
>>> cy.date("2026-03-31")
'31 Mawrth 2026'
>>> Translator("en")("{n} people", n=Translator("en").number(12345))
'12,345 people'
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from . import domain
from .errors import LongitudinalError

__all__ = [
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LOCALE_DIR",
    "MissingTranslation",
    "Translator",
    "Msg",
    "Number",
    "Verbatim",
    "Area",
    "Items",
    "render_html",
    "N_",
    "catalogue",
    "gettext",
    "domain_messages",
    "source_messages",
    "review_terms",
    "other_language",
]

#: The report languages: English (the source) and Welsh.
LANGUAGES: tuple[str, ...] = ("en", "cy")
#: Each language's name in itself (what a language switch shows).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "cy": "Cymraeg"}
#: Babel locales for numbers and dates (British conventions in both languages).
_LOCALES = {"en": "en_GB", "cy": "cy_GB"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "longitudinal"
#: Messages whose Welsh is the English word (names, codes): the catalogue states them so, deliberately.
WALES = "Wales"


class MissingTranslation(LongitudinalError, LookupError):
    """A message shown in a report has no entry in a language's catalogue."""


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (it is translated where shown)."""
    return message


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r}: expected one of {', '.join(LANGUAGES)} (en English, cy Welsh)")
    return lang


def po_path(lang: str) -> Path:
    return LOCALE_DIR / _check(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """``{English message: translation}`` of a language's catalogue (blank translations left out)."""
    from babel.messages.pofile import read_po

    path = po_path(lang)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {LANGUAGE_NAMES[lang]} catalogue is missing from the package")
    with open(path, "rb") as fh:
        cat = read_po(fh, locale=_LOCALES[lang].split("_")[0], domain=DOMAIN)
    out: dict[str, str] = {}
    for msg in cat:
        if msg.id and isinstance(msg.id, str) and msg.string and not msg.fuzzy:
            out[msg.id] = msg.string
    return out


def gettext(message: str, lang: str) -> str:
    """``message`` in ``lang``.

    Raises
    ------
    MissingTranslation
        When ``lang`` is Welsh and the catalogue has no entry for ``message``.
    """
    if _check(lang) == "en":
        return catalogue("en").get(message, message)
    try:
        return catalogue(lang)[message]
    except KeyError:
        raise MissingTranslation(
            f"no {LANGUAGE_NAMES[lang]} entry for {message!r} in {po_path(lang)}: add it (msgid/msgstr) "
            "and, if a Welsh-speaking reviewer should confirm it, list it in docs/welsh-terms.md") from None


def other_language(lang: str) -> str:
    """The other report language (what the language switch links to)."""
    return "cy" if _check(lang) == "en" else "en"


def domain_messages() -> list[str]:
    """The programme's names that reports show (outcome areas, domains, stages, lead needs, authorities)."""
    out = [WALES, *domain.DOMAINS.values(), *(o.name for o in domain.OUTCOMES.values()),
           *domain.SCALE.values(), domain.SCALE_LONG_TERM_5, *domain.SCALE_SHORT.values(),
           *(n.name for n in domain.LEAD_NEEDS), *domain.SERVICES.values()]
    return list(dict.fromkeys(out))


#: Calls whose first argument is a catalogue message (what :func:`source_messages` extracts).
KEYWORDS = {"_": None, "N_": None, "Msg": None}


def source_messages() -> dict[str, list[str]]:
    """Every literal message the package's code passes to ``_``, ``N_`` or ``Msg``, with where it is."""
    from babel.messages.extract import extract_from_dir

    pkg = Path(__file__).resolve().parent
    out: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(pkg), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()):
        if isinstance(message, str) and message:
            out.setdefault(message, []).append(f"{filename}:{lineno}")
    # Babel does not look inside f-strings: calls there with a one-line literal are found by pattern.
    import ast
    import re

    call = re.compile(r"""(?<![\w.])(?:_|N_|Msg)\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')\s*[,)]""")
    for path in sorted(pkg.rglob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for m in call.finditer(line):
                message = ast.literal_eval(m.group(1))
                if message:
                    out.setdefault(message, []).append(f"{path.relative_to(pkg)}:{lineno}")
    return out


def review_terms() -> list[tuple[str, str, str]]:
    """``(English, Welsh, note)`` of the Welsh entries marked for a Welsh-speaking reviewer (``#. review: ...``)."""
    from babel.messages.pofile import read_po

    with open(po_path("cy"), "rb") as fh:
        cat = read_po(fh, locale="cy", domain=DOMAIN)
    out = []
    for msg in cat:
        notes = [c.split(":", 1)[1].strip() for c in msg.auto_comments if c.startswith("review:")]
        if msg.id and notes:
            out.append((msg.id, msg.string, notes[0]))
    return out


@dataclass(frozen=True)
class Translator:
    """Messages, names, numbers and dates in one language: ``_ = Translator("cy"); _("Key points")``."""

    lang: str = "en"

    def __post_init__(self) -> None:
        _check(self.lang)

    @property
    def locale(self) -> str:
        return _LOCALES[self.lang]

    def __call__(self, message: str, /, **fields) -> str:
        """The message in this language, with ``{fields}`` filled in (already formatted by the caller)."""
        text = gettext(message, self.lang)
        return text.format(**fields) if fields else text

    # ------------------------------------------------------------- names
    def area(self, name: str) -> str:
        """Wales or an authority in this language (``"Cardiff"`` -> ``"Caerdydd"``)."""
        if domain.slug(name) in ("wales", "cymru"):
            return self(WALES)
        english = domain.local_authority(name)
        if self.lang == "cy":
            return next(la.welsh for la in domain.LOCAL_AUTHORITIES if la.name == english)
        return english

    def outcome(self, code: str) -> str:
        """An outcome area's name from its code or English name."""
        return self(domain.OUTCOMES[domain.outcome_code(code)].name)

    def stage(self, k: int, short: bool = True) -> str:
        """A Journey of Change stage's label (short: ``"5 Independent"``)."""
        return self((domain.SCALE_SHORT if short else domain.SCALE)[int(k)])

    def lead_need(self, code: str) -> str:
        """A lead need's name from its code (an unknown code - a study's own list - is shown as given)."""
        names = {n.code: n.name for n in domain.LEAD_NEEDS}
        return self(names[code]) if code in names else code

    # ------------------------------------------------- numbers and dates
    def number(self, value, decimals: int = 0) -> str:
        """``value`` with thousands separators and exactly ``decimals`` decimals; ``-0`` is shown as ``0``."""
        from babel.numbers import format_decimal

        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"cannot format {value!r} as a number: a missing value is a symbol ([x], [c], [z])")
        v = round(v, decimals)
        if v == 0:
            v = 0.0  # no "-0": a rounded small negative is zero
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(v, format=pattern, locale=self.locale, decimal_quantization=True)

    def p_value(self, value, decimals: int = 4) -> str:
        """A p-value to ``decimals`` decimals; one that would show as 0 is ``<0.0001`` (a p-value is never 0).

        >>> Translator("en").p_value(3e-9), Translator("en").p_value(0.0312, 2)
        ('<0.0001', '0.03')
        """
        smallest = 10.0 ** -decimals
        return "<" + self.number(smallest, decimals) if float(value) < smallest / 2 else self.number(value, decimals)

    def money(self, value, decimals: int = 0) -> str:
        """Pounds sterling: ``£6,982,208``."""
        return "£" + self.number(value, decimals)

    def date(self, when) -> str:
        """A date in words: ``31 March 2026`` / ``31 Mawrth 2026``."""
        import pandas as pd
        from babel.dates import format_date

        return format_date(pd.Timestamp(when).date(), "d MMMM y", locale=self.locale)

    def month(self, when) -> str:
        """Month and year in words: ``April 2027`` / ``Ebrill 2027``."""
        import pandas as pd
        from babel.dates import format_date

        return format_date(pd.Timestamp(when).date(), "LLLL y", locale=self.locale)

    def financial_year(self, year: int) -> str:
        """``2025-26`` (the same in both languages)."""
        return domain.fy_label(int(year))


@dataclass(frozen=True)
class Number:
    """A number to show in a message, formatted per language when shown (``decimals`` fixed per use);
    ``p``: a p-value (never shown as 0: ``<0.01``)."""

    value: float
    decimals: int = 0
    money: bool = False
    p: bool = False

    def render(self, _: Translator) -> str:
        if self.p:
            return _.p_value(self.value, self.decimals)
        return _.money(self.value, self.decimals) if self.money else _.number(self.value, self.decimals)


@dataclass(frozen=True)
class Verbatim:
    """Text shown as it is, in its own language (a model's message, a map's wording): on a page of another
    language it is marked ``lang=`` (:func:`render_html`) and the message around it says so."""

    text: str
    lang: str | None = "en"

    def render(self, _: Translator) -> str:
        return self.text


@dataclass(frozen=True)
class Area:
    """Wales or an authority, named in the page's language (``Cardiff`` / ``Caerdydd``)."""

    name: str

    def render(self, _: Translator) -> str:
        return _.area(self.name)


@dataclass(frozen=True)
class Items:
    """A list of messages or names shown joined (``"Feeling safe; Managing money"``)."""

    items: tuple
    sep: str = "; "

    def render(self, _: Translator) -> str:
        return self.sep.join(show(i, _) for i in self.items)

    def __str__(self) -> str:  # English, as a Msg
        return self.render(Translator("en"))


class Msg:
    """A message kept until it is shown, so that one computed report renders in both languages.

    ``Msg("Supporting People annual report: {area}, {year}", area=Msg("Wales"), year="2025-26")``:
    the English text is the catalogue's key; fields are language-neutral strings (codes, file names,
    ``2025-26``), :class:`Number`, dates (``datetime.date``/``pandas.Timestamp``, shown in words) or
    other ``Msg`` (names are ``Msg(name)``: looked up in the catalogue too).
    """

    __slots__ = ("text", "fields")

    def __init__(self, text: str, /, **fields) -> None:
        self.text = text
        self.fields = fields

    def render(self, _: Translator, verbatim=None) -> str:
        """The message in ``_``'s language; ``verbatim`` maps each :class:`Verbatim` field to its text
        (by default the text itself)."""
        import datetime

        import pandas as pd

        def show(v):
            if isinstance(v, Msg):
                return v.render(_, verbatim)
            if isinstance(v, Verbatim):
                return verbatim(v) if verbatim else v.text
            if isinstance(v, (Number, Area, Items)):
                return v.render(_)
            if isinstance(v, (datetime.date, pd.Timestamp)):
                return _.date(v)
            if isinstance(v, bool):
                raise TypeError("a yes/no field must be a translated message (a Msg of 'yes' or 'no'), not a bool")
            if isinstance(v, int):
                return _.number(v)
            if isinstance(v, float):
                raise TypeError(f"float field {v!r}: wrap it in Number(value, decimals) to fix its decimals")
            return str(v)

        return _(self.text, **{k: show(v) for k, v in self.fields.items()})

    def __eq__(self, other) -> bool:
        return isinstance(other, Msg) and (self.text, self.fields) == (other.text, other.fields)

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Msg({self.text!r}{''.join(f', {k}={v!r}' for k, v in self.fields.items())})"

    def __str__(self) -> str:  # English, e.g. in a traceback or a notebook's plain-text output
        return self.render(Translator("en"))


def show(text, _: Translator) -> str:
    """A ``Msg``/``Number``/``Verbatim`` rendered in ``_``'s language; a plain string is a catalogue message too."""
    if isinstance(text, (Msg, Number, Verbatim, Area, Items)):
        return text.render(_)
    return _(str(text))


def render_html(text, _: Translator, convert) -> str:
    """``text`` in ``_``'s language, turned into HTML by ``convert`` (``html.escape``, a Markdown renderer),
    with every :class:`Verbatim` part of another language escaped and marked ``<span lang="...">``."""
    import html

    parts: dict[str, Verbatim] = {}

    def token(v: Verbatim) -> str:
        key = f"LGVERBATIM{len(parts)}Z"
        parts[key] = v
        return key

    if isinstance(text, Verbatim):
        s = token(text)
    elif isinstance(text, Msg):
        s = text.render(_, token)
    else:
        s = show(text, _)
    out = convert(s)
    for key, v in parts.items():
        inner = html.escape(v.text)
        out = out.replace(key, inner if v.lang in (None, _.lang) else f'<span lang="{v.lang}">{inner}</span>')
    return out
