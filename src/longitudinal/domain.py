"""The Supporting People domain: outcome areas, the Journey of Change scale,
local authorities, lead needs, service types and financial years.

Everything the rest of the package knows about the programme's vocabulary
lives here, in one place, so that a study can replace a list (for example
the lead needs) without touching the models.

Examples
--------
>>> from longitudinal import domain
>>> domain.OUTCOMES["managing_money"].name
'Managing money'
>>> domain.local_authority("Caerdydd")
'Cardiff'
>>> domain.financial_year("2026-03-31"), domain.financial_year("2026-04-01")
(2025, 2026)
>>> domain.fy_label(2025)
'2025-26'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, overload

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "fold_label",
    "Outcome",
    "OUTCOMES",
    "OUTCOME_CODES",
    "DOMAINS",
    "SCALE",
    "SCALE_LONG_TERM_5",
    "LocalAuthority",
    "LOCAL_AUTHORITIES",
    "LA_NAMES",
    "LeadNeed",
    "LEAD_NEEDS",
    "SERVICE_TYPES",
    "END_REASONS",
    "READING_TYPES",
    "SEXES",
    "AGE_BANDS",
    "local_authority",
    "outcome_code",
    "financial_year",
    "fy_label",
    "fy_bounds",
    "age_band",
    "slug",
    "WALES",
    "area_name",
    "area_slug",
    "all_areas",
]


# --------------------------------------------------------------------------
# Outcome areas
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    code: str
    name: str
    domain: str


DOMAINS: dict[str, str] = {
    "safety": "Promoting personal and community safety",
    "independence": "Promoting independence and control",
    "economic": "Promoting economic progress and financial control",
    "health": "Promoting health and well-being",
}

OUTCOMES: dict[str, Outcome] = {
    o.code: o
    for o in [
        Outcome("feeling_safe", "Feeling safe", "safety"),
        Outcome(
            "contributing_safety",
            "Contributing to the safety and well-being of themselves and of others",
            "safety",
        ),
        Outcome("managing_accommodation", "Managing accommodation", "independence"),
        Outcome("managing_relationships", "Managing relationships", "independence"),
        Outcome("feeling_part_of_community", "Feeling part of the community", "independence"),
        Outcome("managing_money", "Managing money", "economic"),
        Outcome("education_learning", "Engaging in education/learning", "economic"),
        Outcome("employment_voluntary", "Engaged in employment/voluntary work", "economic"),
        Outcome("physically_healthy", "Physically healthy", "health"),
        Outcome("mentally_healthy", "Mentally healthy", "health"),
        Outcome("healthy_active_lifestyle", "Leading a healthy and active lifestyle", "health"),
    ]
}
OUTCOME_CODES: tuple[str, ...] = tuple(OUTCOMES)

# --------------------------------------------------------------------------
# The Journey of Change scale. The seed (SP Outcomes overview) says the final
# wording "has yet to be agreed": keep the labels here and nowhere else.
# --------------------------------------------------------------------------
SCALE: dict[int, str] = {
    1: "Harm prevention and trust-building; may be unwilling to engage",
    2: "Willing to discuss; needs considerable support",
    3: "Believes change is possible; works to time-bound goals with support",
    4: "Deals with difficulties increasingly self-reliantly",
    5: "Manages independently",
}
SCALE_LONG_TERM_5 = "Maintaining optimum independence with long-term support"
SCALE_SHORT: dict[int, str] = {
    1: "1 Harm prevention",
    2: "2 Considerable support",
    3: "3 Time-bound goals",
    4: "4 Increasingly self-reliant",
    5: "5 Independent",
}


# --------------------------------------------------------------------------
# Local authorities: the 22 principal councils of Wales.
# Population: ONS mid-2022 estimates (thousands), used to size the synthetic study.
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalAuthority:
    name: str
    welsh: str
    ons_code: str
    population_k: int

    @property
    def slug(self) -> str:
        return slug(self.name)


LOCAL_AUTHORITIES: tuple[LocalAuthority, ...] = (
    LocalAuthority("Isle of Anglesey", "Ynys Môn", "W06000001", 69),
    LocalAuthority("Gwynedd", "Gwynedd", "W06000002", 117),
    LocalAuthority("Conwy", "Conwy", "W06000003", 114),
    LocalAuthority("Denbighshire", "Sir Ddinbych", "W06000004", 96),
    LocalAuthority("Flintshire", "Sir y Fflint", "W06000005", 155),
    LocalAuthority("Wrexham", "Wrecsam", "W06000006", 135),
    LocalAuthority("Ceredigion", "Ceredigion", "W06000008", 71),
    LocalAuthority("Pembrokeshire", "Sir Benfro", "W06000009", 124),
    LocalAuthority("Carmarthenshire", "Sir Gaerfyrddin", "W06000010", 188),
    LocalAuthority("Swansea", "Abertawe", "W06000011", 241),
    LocalAuthority("Neath Port Talbot", "Castell-nedd Port Talbot", "W06000012", 142),
    LocalAuthority("Bridgend", "Pen-y-bont ar Ogwr", "W06000013", 146),
    LocalAuthority("Vale of Glamorgan", "Bro Morgannwg", "W06000014", 132),
    LocalAuthority("Cardiff", "Caerdydd", "W06000015", 372),
    LocalAuthority("Rhondda Cynon Taf", "Rhondda Cynon Taf", "W06000016", 238),
    LocalAuthority("Caerphilly", "Caerffili", "W06000018", 175),
    LocalAuthority("Blaenau Gwent", "Blaenau Gwent", "W06000019", 67),
    LocalAuthority("Torfaen", "Tor-faen", "W06000020", 92),
    LocalAuthority("Monmouthshire", "Sir Fynwy", "W06000021", 93),
    LocalAuthority("Newport", "Casnewydd", "W06000022", 160),
    LocalAuthority("Powys", "Powys", "W06000023", 134),
    LocalAuthority("Merthyr Tydfil", "Merthyr Tudful", "W06000024", 59),
)
LA_NAMES: tuple[str, ...] = tuple(la.name for la in LOCAL_AUTHORITIES)


def fold_label(text: str) -> str:
    """Case-, accent-, punctuation- and space-insensitive key of a label (``"Ynys Môn"`` and ``"ynys mon"``
    give ``"ynysmon"``): how every label lookup compares names.

    >>> fold_label("Ynys Môn") == fold_label("ynys-mon")
    True
    """
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def slug(text: str) -> str:
    """File-name friendly form: ``"Vale of Glamorgan"`` → ``"vale-of-glamorgan"``."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_LA_ALIASES: dict[str, str] = {}
for _la in LOCAL_AUTHORITIES:
    for _alias in (_la.name, _la.welsh, _la.ons_code, _la.slug):
        _LA_ALIASES[fold_label(_alias)] = _la.name
# Common alternative spellings seen in returns.
for _alias, _name in {
    "Anglesey": "Isle of Anglesey",
    "Rhondda Cynon Taff": "Rhondda Cynon Taf",
    "RCT": "Rhondda Cynon Taf",
    "Neath Port-Talbot": "Neath Port Talbot",
    "Merthyr": "Merthyr Tydfil",
    "The Vale of Glamorgan": "Vale of Glamorgan",
    "Isle of Anglesey County Council": "Isle of Anglesey",
}.items():
    _LA_ALIASES[fold_label(_alias)] = _name


class UnknownLabelError(InputError, KeyError):
    """A label (authority, lead need, service type, outcome area) that is none of the accepted ones.

    An :class:`~longitudinal.errors.InputError` (with ``value`` and ``expected``) and, as the
    look-ups always raised, a ``KeyError``.
    """

    def __str__(self) -> str:  # KeyError would quote the whole message
        return Exception.__str__(self)


def resolve_label(value: object, aliases: dict[str, str], what: str, accepted: Iterable[str]) -> str:
    """The canonical value of ``value`` by its folded alias, or a KeyError with a did-you-mean.

    ``aliases`` maps folded spellings (see :func:`fold_label`) to the canonical value; ``accepted``
    is what the error lists.
    """
    key = fold_label(str(value))
    if key in aliases:
        return aliases[key]
    close = difflib.get_close_matches(key, list(aliases), n=1, cutoff=0.6)
    hint = f" (did you mean {aliases[close[0]]!r}?)" if close else ""
    expected = ", ".join(accepted)
    raise UnknownLabelError(f"{value!r} is not {what}{hint}; expected one of: {expected}", expected=None)


def local_authority(name: str) -> str:
    """Canonical English name of a local authority given any accepted alias.

    Accepts the English name, the Welsh name, the ONS code (``W06000015``) or
    the slug, ignoring case, accents and punctuation.

    Raises
    ------
    KeyError
        With a did-you-mean and the list of accepted names when ``name`` is not a Welsh authority.
    """
    return resolve_label(name, _LA_ALIASES, "one of the 22 Welsh local authorities",
                         [f"{la.name} ({la.welsh})" for la in LOCAL_AUTHORITIES])


# --------------------------------------------------------------------------
# Areas of the annual publication: Wales and the 22 authorities.
# --------------------------------------------------------------------------
#: The national area of the publication.
WALES = "Wales"


def area_name(area: str) -> str:
    """``"Wales"`` or the canonical name of an authority (Welsh names and ``"Cymru"`` accepted).

    >>> area_name("Cymru"), area_name("Bro Morgannwg")
    ('Wales', 'Vale of Glamorgan')
    """
    if slug(area) in ("wales", "cymru"):
        return WALES
    try:
        return local_authority(area)
    except KeyError as exc:
        raise ValueError(f"unknown area {area!r}: expected 'Wales' or one of the 22 local authorities "
                         f"({', '.join(LA_NAMES)})") from exc


def area_slug(area: str) -> str:
    """Folder name of an area's report: ``"wales"``, ``"vale-of-glamorgan"``, …"""
    return slug(area_name(area))


def all_areas() -> list[str]:
    """Wales, then the 22 authorities in their usual (north-to-south-east) order."""
    return [WALES, *LA_NAMES]


def local_authority_aliases() -> dict[str, str]:
    """Folded alias → canonical name; used by ingest to map a column at once."""
    return dict(_LA_ALIASES)


_OUTCOME_ALIASES: dict[str, str] = {}
for _o in OUTCOMES.values():
    _OUTCOME_ALIASES[fold_label(_o.code)] = _o.code
    _OUTCOME_ALIASES[fold_label(_o.name)] = _o.code


def outcome_code(name: str) -> str:
    """Outcome code given a code or a display name ("Managing money" → ``managing_money``)."""
    return resolve_label(name, _OUTCOME_ALIASES, "an outcome area", OUTCOME_CODES)


def outcome_aliases() -> dict[str, str]:
    return dict(_OUTCOME_ALIASES)


# --------------------------------------------------------------------------
# Lead needs: the SP lead-need categories. A default list; a study may replace
# it (see ``longitudinal.contract.ContractConfig``).
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadNeed:
    code: str
    name: str
    share: float  # share of people supported (synthetic study)
    long_term_share: float  # share of their episodes in long-term services
    age_range: tuple[int, int]  # age at referral (synthetic study)


LEAD_NEEDS: tuple[LeadNeed, ...] = (
    LeadNeed("older_people", "Older people (55+)", 0.38, 0.90, (55, 95)),
    LeadNeed("alarm_services", "Alarm services (incl. sheltered / extra care)", 0.22, 0.98, (60, 98)),
    LeadNeed("domestic_abuse", "Domestic abuse", 0.06, 0.05, (18, 60)),
    LeadNeed("mental_health", "Mental health", 0.07, 0.30, (18, 70)),
    LeadNeed("learning_disabilities", "Learning disabilities", 0.04, 0.90, (18, 70)),
    LeadNeed("substance_misuse", "Substance misuse", 0.03, 0.10, (18, 65)),
    LeadNeed("criminal_offending", "Criminal offending history", 0.02, 0.05, (18, 60)),
    LeadNeed("young_people", "Young people (16-24)", 0.04, 0.05, (16, 24)),
    LeadNeed("care_leavers", "Care leavers", 0.01, 0.10, (16, 21)),
    LeadNeed("families", "Families with support needs", 0.03, 0.05, (18, 50)),
    LeadNeed("generic_floating", "Generic floating support", 0.07, 0.10, (18, 80)),
    LeadNeed("physical_disabilities", "Physical and/or sensory disabilities", 0.02, 0.60, (18, 85)),
    LeadNeed("refugees", "Refugees", 0.01, 0.05, (18, 60)),
)
LEAD_NEED_CODES: tuple[str, ...] = tuple(n.code for n in LEAD_NEEDS)

SERVICE_TYPES: tuple[str, ...] = ("short_term", "long_term")
SERVICE_TYPE_NAMES: dict[str, str] = {"short_term": "Short-term", "long_term": "Long-term"}
END_REASONS: tuple[str, ...] = ("planned", "unplanned", "moved_away", "died", "other")
READING_TYPES: tuple[str, ...] = ("start", "review", "end", "follow_up")
SEXES: tuple[str, ...] = ("female", "male", "other")

AGE_BANDS: tuple[str, ...] = ("16-24", "25-34", "35-54", "55-64", "65-74", "75-84", "85+")
_AGE_EDGES = np.array([0, 25, 35, 55, 65, 75, 85, 200])


_AGE_BAND_DTYPE = pd.CategoricalDtype(list(AGE_BANDS), ordered=True)


def age_band(age: Iterable[float] | pd.Series) -> pd.Series:
    """Age bands used in tables and models (``16-24`` … ``85+``): ``pd.cut(age, _AGE_EDGES, right=False)`` with
    these labels, as an ordered categorical Series (NaN outside the bands).

    >>> age_band([24, 25, 84.5, 85, 199, 200, -1, float("nan")]).tolist()[:5]
    ['16-24', '25-34', '75-84', '85+', '85+']
    """
    s = pd.Series(age, dtype="float64")
    # the band by binary search over the 8 edges (pd.cut's own path costs several times this nationally)
    codes = np.searchsorted(_AGE_EDGES, s.to_numpy(), side="right") - 1
    codes[(codes >= len(AGE_BANDS)) | np.isnan(s.to_numpy())] = -1
    return pd.Series(pd.Categorical.from_codes(codes, dtype=_AGE_BAND_DTYPE), index=s.index, name=s.name)


# --------------------------------------------------------------------------
# Financial years run April to March; "2025" means 2025-26.
# --------------------------------------------------------------------------
@overload
def financial_year(when: str | date) -> int: ...
@overload
def financial_year(when: Any) -> Any: ...
def financial_year(when):
    """Financial year (April–March) of a date (an int), an array of dates (an array) or a Series (a Series)."""
    if isinstance(when, (str, date, pd.Timestamp)):
        ts = pd.Timestamp(when)
        return ts.year if ts.month >= 4 else ts.year - 1
    s = pd.Series(when) if not isinstance(when, pd.Series) else when
    if s.dtype.kind != "M":  # to_datetime of dates already (it maps them through a cache of the distinct ones)
        s = pd.to_datetime(s)
    days = _whole_days(s)
    if days is not None:  # each day's year looked up once: 11.5 million national readings span a few thousand
        first = int(days.min(initial=0))
        span = pd.Series(pd.to_datetime(np.arange(first, int(days.max(initial=0)) + 1), unit="D"))
        table = (span.dt.year - (span.dt.month < 4).astype("int64")).to_numpy()
        out = pd.Series(table[days - first], index=s.index, name=s.name)
    else:
        out = s.dt.year - (s.dt.month < 4).astype("int64")
    return out if isinstance(when, pd.Series) else out.to_numpy()


def _whole_days(s: pd.Series) -> np.ndarray | None:
    """Days since 1970 of datetime64[ns] dates at midnight spanning at most 100 years, none missing; else None."""
    if s.dtype != np.dtype("datetime64[ns]") or s.hasnans:
        return None
    ns = s.to_numpy().view("i8")
    day = 86_400 * 10**9
    days = ns // day
    if len(days) == 0 or (ns - days * day).any() or int(days.max()) - int(days.min()) > 36_525:
        return None
    return days


def parse_financial_year(value, what: str = "financial_year") -> int:
    """A financial year as given by a person: ``2025``, ``"2025"`` or ``"2025-26"`` (April 2025 to March 2026).

    >>> parse_financial_year("2025-26"), parse_financial_year(2025)
    (2025, 2025)

    Raises
    ------
    InputError
        Naming ``what`` and the value, if it is not a financial year.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    m = re.fullmatch(r"(\d{4})(?:[-/](\d{2}|\d{4}))?", str(value).strip())
    if m and (m[2] is None or int(m[2]) % 100 == (int(m[1]) + 1) % 100):
        return int(m[1])
    raise InputError(f"{what} is not a financial year", value=value,
                     expected="a year such as 2025 or 2025-26 (April 2025 to March 2026)")


def fy_label(year: int) -> str:
    """``2025`` → ``"2025-26"``."""
    return f"{year}-{(year + 1) % 100:02d}"


def fy_bounds(year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a financial year."""
    return pd.Timestamp(year, 4, 1), pd.Timestamp(year + 1, 3, 31)


def lead_need_code(name: str, codes: Iterable[str] | None = None) -> str:
    """Lead-need code given a code or a display name ("Mental health" → ``mental_health``).

    ``codes``: the study's own lead-need codes (a study may replace the default list); names of the
    default list are accepted too. KeyError with a did-you-mean for anything else.
    """
    names = {n.code: n.name for n in LEAD_NEEDS}
    codes = list(LEAD_NEED_CODES if codes is None else codes)
    aliases = {fold_label(c): c for c in codes}
    aliases |= {fold_label(names[c]): c for c in codes if c in names}
    accepted = [f"{c} ({names[c]})" if c in names else c for c in codes]
    return resolve_label(name, aliases, "a lead need of this study", accepted)


def service_type_code(name: str) -> str:
    """``short_term``/``long_term`` from a code or a display name ("Short term", "long-term")."""
    aliases = {fold_label(c): c for c in SERVICE_TYPES} | {fold_label(v): c for c, v in SERVICE_TYPE_NAMES.items()}
    return resolve_label(name, aliases, "a service type", SERVICE_TYPES)


# --------------------------------------------------------------------------
# Linked public-service use (the optional ``service_use`` table): the default
# list of services; a study may declare its own (``ingest(services=...)``).
# --------------------------------------------------------------------------
SERVICES: dict[str, str] = {
    "emergency_admission": "Emergency hospital admissions",
    "ae_attendance": "A&E attendances",
    "outpatient": "Outpatient appointments",
    "gp_event": "GP event days",
    "homelessness_presentation": "Homelessness presentations",
}
SERVICE_CODES: tuple[str, ...] = tuple(SERVICES)
