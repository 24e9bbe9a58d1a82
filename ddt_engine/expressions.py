"""Evaluator of the expression AST (``schemas.expressions``), shared by the DDT engine and
the runtime.

Each expression is compiled once into nested Python closures (memoised per expression
object), so a run is a handful of plain function calls. Evaluation is pure: the only clock
is the ``now`` argument, and it never raises on whatever memory holds — a missing variable
is ``None``, a comparison with ``None`` or across types is ``False``, an operation that has
no meaning (``"a" * 2``, ``1 / 0``, ``true + 1``) is ``None``.
"""

from __future__ import annotations

import calendar
import math
import operator
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from schemas.expressions import (
    Binary,
    Call,
    DateLit,
    Duration,
    Expr,
    ExprPart,
    IsSet,
    ListLit,
    Lit,
    Template,
    Unary,
    Var,
)

__all__ = [
    "Dur",
    "Fn",
    "compile_expr",
    "evaluate",
    "format_value",
    "get_path",
    "jsonable",
    "render",
    "set_path",
]

Fn = Callable[[Mapping[str, Any], datetime], Any]
"""A compiled expression: ``(memory, now) -> value``."""


@dataclass(frozen=True, slots=True)
class Dur:
    """A duration value: calendar months, days and seconds kept apart (``1m`` added to
    January 31st is the last day of February)."""

    days: int = 0
    months: int = 0
    seconds: int = 0

    def approx_seconds(self) -> float:
        """For ordering only: a month counts 30.436875 days."""
        return (self.months * 30.436875 + self.days) * 86400.0 + self.seconds

    def scaled(self, k: int) -> Dur:
        return Dur(self.days * k, self.months * k, self.seconds * k)


_DUR_KEYS = frozenset(("days", "months", "seconds"))


def _dur(x: Any) -> Any:
    """A duration stored in memory comes back from JSON as a dict: read it as a Dur."""
    if type(x) is dict and x.keys() == _DUR_KEYS and all(type(v) is int for v in x.values()):
        return Dur(x["days"], x["months"], x["seconds"])
    return x


# ---------------------------------------------------------------------------------------------
# memory paths


def get_path(memory: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path in nested dicts; a numeric segment indexes a list
    (``slots.0.time``). Anything missing or of the wrong shape gives ``None``."""
    cur = memory
    for seg in path:
        if type(cur) is dict or isinstance(cur, Mapping):
            cur = cur.get(seg)
        elif type(cur) is list or type(cur) is tuple:
            if not seg.isdigit():
                return None
            i = int(seg)
            cur = cur[i] if i < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def set_path(memory: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A new dict equal to ``memory`` with ``value`` at ``path``. Copy-on-write: only the
    dicts along the path are copied, the rest is shared. A missing or non-dict intermediate
    becomes a new dict."""
    if not path:
        raise ValueError("empty path")
    root = dict(memory)
    cur = root
    for seg in path[:-1]:
        nxt = cur.get(seg)
        if type(nxt) is dict or (nxt is not None and isinstance(nxt, Mapping)):
            child = dict(nxt)
        else:
            child = {}
        cur[seg] = child
        cur = child
    cur[path[-1]] = value
    return root


# ---------------------------------------------------------------------------------------------
# value helpers

_NUMT = (int, float)


def _num(r: Any) -> Any:
    if type(r) is float and not math.isfinite(r):
        return None
    return r


def _truthy(v: Any) -> bool:
    try:
        return bool(v)
    except Exception:  # noqa: BLE001 - memory may hold anything
        return False


def _eq(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


_ORDERED = frozenset((int, float, str))


def _keys(a: Any, b: Any) -> tuple[Any, Any] | None:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a, b
    if ta is str and tb is str:
        return a, b
    if ta is dict or tb is dict:
        a, b = _dur(a), _dur(b)
        ta, tb = type(a), type(b)
    if ta is Dur and tb is Dur:
        return a.approx_seconds(), b.approx_seconds()
    return None


def _ordering(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    """``<``, ``<=``, ``>``, ``>=``: numbers with numbers, text with text, durations with
    durations; anything else is false."""

    def compare(a: Any, b: Any) -> bool:
        t = type(a)
        if t is type(b) and t in _ORDERED:  # what _keys would give back unchanged
            return bool(op(a, b))
        k = _keys(a, b)
        return k is not None and bool(op(k[0], k[1]))

    return compare


_lt = _ordering(operator.lt)
_le = _ordering(operator.le)
_gt = _ordering(operator.gt)
_ge = _ordering(operator.ge)


def _in(a: Any, b: Any) -> bool:
    tb = type(b)
    if tb is list or tb is tuple:
        return any(_eq(a, x) for x in b)
    if tb is str:
        return type(a) is str and a in b
    if isinstance(b, Mapping):
        return type(a) is str and a in b
    return False


def _as_date(v: Any) -> date | None:
    if type(v) is not str or len(v) < 10:
        return None
    try:
        return date.fromisoformat(v[:10])
    except ValueError:
        return None


def _kind(v: str) -> str | None:
    """'date', 'datetime' or 'time' for an ISO string, else None."""
    n = len(v)
    if n == 10 and v[4:5] == "-" and v[7:8] == "-":
        return "date"
    if n > 10 and v[4:5] == "-" and v[10:11] in ("T", " "):
        return "datetime"
    if n in (5, 8) and v[2:3] == ":":
        return "time"
    return None


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year = d.year + y
    month = m + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def _shift(v: str, d: Dur, sign: int) -> str | None:
    kind = _kind(v)
    try:
        if kind == "date":
            base = _add_months(date.fromisoformat(v), sign * d.months)
            out = base + timedelta(days=sign * d.days, seconds=sign * d.seconds)
            return out.isoformat()
        if kind == "datetime":
            dt = datetime.fromisoformat(v)
            nd = _add_months(dt.date(), sign * d.months)
            dt = dt.replace(year=nd.year, month=nd.month, day=nd.day)
            return (dt + timedelta(days=sign * d.days, seconds=sign * d.seconds)).isoformat()
        if kind == "time":
            h, m = int(v[0:2]), int(v[3:5])
            s = int(v[6:8]) if len(v) == 8 else 0
            if h > 23 or m > 59 or s > 59:
                return None
            total = (h * 3600 + m * 60 + s + sign * d.seconds) % 86400
            hh, rest = divmod(total, 3600)
            mm, ss = divmod(rest, 60)
            return f"{hh:02d}:{mm:02d}" + (f":{ss:02d}" if len(v) == 8 else "")
    except (ValueError, OverflowError):
        return None
    return None


def _diff(a: str, b: str) -> Dur | None:
    ka, kb = _kind(a), _kind(b)
    try:
        if ka == kb == "date":
            return Dur(days=(date.fromisoformat(a) - date.fromisoformat(b)).days)
        if ka == kb == "datetime":
            td = datetime.fromisoformat(a) - datetime.fromisoformat(b)
            return Dur(days=td.days, seconds=td.seconds)
        if ka == kb == "time":
            sa = int(a[0:2]) * 3600 + int(a[3:5]) * 60 + (int(a[6:8]) if len(a) == 8 else 0)
            sb = int(b[0:2]) * 3600 + int(b[3:5]) * 60 + (int(b[6:8]) if len(b) == 8 else 0)
            return Dur(seconds=sa - sb)
    except (ValueError, TypeError):
        return None
    return None


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num(a + b)
    if ta is dict or tb is dict:
        a, b = _dur(a), _dur(b)
        ta, tb = type(a), type(b)
    if ta is str:
        if tb is str:
            return a + b
        if tb is Dur:
            return _shift(a, b, 1)
        return None
    if ta is Dur:
        if tb is Dur:
            return Dur(a.days + b.days, a.months + b.months, a.seconds + b.seconds)
        if tb is str:
            return _shift(b, a, 1)
        return None
    if ta is list and tb is list:
        return a + b
    return None


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num(a - b)
    if ta is dict or tb is dict:
        a, b = _dur(a), _dur(b)
        ta, tb = type(a), type(b)
    if ta is str:
        if tb is Dur:
            return _shift(a, b, -1)
        if tb is str:
            return _diff(a, b)
        return None
    if ta is Dur and tb is Dur:
        return Dur(a.days - b.days, a.months - b.months, a.seconds - b.seconds)
    return None


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num(a * b)
    if ta is dict or tb is dict:
        a, b = _dur(a), _dur(b)
        ta, tb = type(a), type(b)
    if ta is Dur and tb is int:
        return a.scaled(b)
    if ta is int and tb is Dur:
        return b.scaled(a)
    return None


def _div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float) and b != 0:
        return _num(a / b)
    return None


def _mod(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float) and b != 0:
        return _num(a % b)
    return None


def _neg(a: Any) -> Any:
    a = _dur(a)
    ta = type(a)
    if ta is int or ta is float:
        return -a
    if ta is Dur:
        return a.scaled(-1)
    return None


def _is_set(v: Any) -> bool:
    return v is not None and v != ""


# ---------------------------------------------------------------------------------------------
# formatting (templates, str(), filters)

_MONTHS = {
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
_WEEKDAYS = {
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_DUR_WORDS = {
    "it": (("anno", "anni"), ("mese", "mesi"), ("giorno", "giorni"), ("ora", "ore"),
           ("minuto", "minuti"), ("secondo", "secondi")),
    "en": (("year", "years"), ("month", "months"), ("day", "days"), ("hour", "hours"),
           ("minute", "minutes"), ("second", "seconds")),
}  # fmt: skip
_YES_NO = {"it": ("sì", "no"), "en": ("yes", "no")}


def _lang(lang: str) -> str:
    return "it" if lang[:2] == "it" else "en"


def _fmt_number(v: int | float, lang: str) -> str:
    if type(v) is int:
        return str(v)
    f = float(v)
    if not math.isfinite(f):
        return ""
    if f.is_integer() and abs(f) < 1e21:
        return str(int(f))
    s = repr(f) if abs(f) >= 1e16 or abs(f) < 1e-6 else f"{f:.10f}".rstrip("0").rstrip(".")
    return s.replace(".", ",") if _lang(lang) == "it" else s


def _fmt_dur(d: Dur, lang: str) -> str:
    words = _DUR_WORDS[_lang(lang)]
    years, months = divmod(d.months, 12)
    hours, rest = divmod(d.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    for n, (one, many) in zip((years, months, d.days, hours, minutes, seconds), words, strict=True):
        if n:
            parts.append(f"{n} {one if abs(n) == 1 else many}")
    if not parts:
        return f"0 {words[2][1]}"
    if len(parts) == 1:
        return parts[0]
    joiner = " e " if _lang(lang) == "it" else " and "
    return ", ".join(parts[:-1]) + joiner + parts[-1]


def format_value(v: Any, lang: str = "en") -> str:
    """How a value is written into a prompt: None is empty, numbers have no trailing
    ``.0`` (and a decimal comma in Italian), booleans are sì/no or yes/no, a list is
    comma-separated, a partial date ``{"month": 3, "year": 1980}`` is "marzo 1980"."""
    t = type(v)
    if t is str:
        return str(v)
    if v is None:
        return ""
    if t is bool:
        yes, no = _YES_NO[_lang(lang)]
        return yes if v else no
    if t is int or t is float:
        return _fmt_number(v, lang)
    if t is Dur:
        return _fmt_dur(v, lang)
    if t is list or t is tuple:
        return ", ".join(format_value(x, lang) for x in v)
    if t is dict and v.keys() == _DUR_KEYS:
        d = _dur(v)
        return _fmt_dur(d, lang) if type(d) is Dur else ""
    if isinstance(v, Mapping):
        return _fmt_partial_date(v, "long", lang) or ""
    return ""


def _fmt_partial_date(v: Mapping[str, Any], style: str, lang: str) -> str | None:
    day, month, year = v.get("day"), v.get("month"), v.get("year")
    if not any(type(x) is int for x in (day, month, year)):
        return None
    if type(month) is int and not 1 <= month <= 12:
        return None
    lg = _lang(lang)
    if style == "short":
        return "/".join(
            f"{x:02d}" if type(x) is int and i < 2 else str(x) if type(x) is int else "--"
            for i, x in enumerate((day, month, year))
        )
    out = []
    if type(day) is int:
        out.append(str(day))
    if type(month) is int:
        out.append(_MONTHS[lg][month - 1])
    if type(year) is int:
        out.append(str(year))
    return " ".join(out)


def _fn_date(lang: str, d: Any, style: Any = "long") -> str | None:
    if type(d) is not str and isinstance(d, Mapping):  # a date is mostly an ISO string
        return _fmt_partial_date(d, str(style), lang)
    dd = _as_date(d)
    if dd is None:
        return None
    lg = _lang(lang)
    if style == "short":
        return f"{dd.day:02d}/{dd.month:02d}/{dd.year}"
    text = f"{dd.day} {_MONTHS[lg][dd.month - 1]} {dd.year}"
    if style == "weekday":
        return f"{_WEEKDAYS[lg][dd.weekday()]} {text}"
    return text if style == "long" else None


_ELIDED = {"il": "l'", "del": "dell'", "al": "all'", "dal": "dall'", "nel": "nell'", "sul": "sull'"}
_LEADING_NUMBER = re.compile(r"0*(\d+)")
# "1 marzo" after an article is "il 1º marzo" (read "primo"). The date filter itself keeps
# writing "1 marzo": recorded sessions must replay to the same bytes.
_FIRST_OF_MONTH = re.compile(r"^1(?= (?:" + "|".join(_MONTHS["it"]) + r")\b)")


def _elides(text: str) -> bool:
    """Whether Italian elides the article before ``text``: a vowel sound first. Numbers
    count as they are read: 8, 11, 80–89, 800–899, 8000… ("otto", "undici", "ottanta"),
    never 1º ("primo") or 1 ("uno" is written out when meant)."""
    m = _LEADING_NUMBER.match(text)
    if m is not None:
        n = m.group(1)
        return n.startswith("8") or n == "11" or (len(n) == 5 and n.startswith("11"))
    first = text[:1].lower()
    return first != "" and first in "aeiouàèéìòóù"


def _fn_article(x: Any, prep: Any) -> str | None:
    text = _FIRST_OF_MONTH.sub("1º", format_value(x, "it").strip())
    if type(prep) is not str or prep not in _ELIDED:
        return None
    if not text:
        return ""
    return f"{_ELIDED[prep]}{text}" if _elides(text) else f"{prep} {text}"


def _fn_time(t: Any) -> str | None:
    if type(t) is not str:
        return None
    kind = _kind(t)
    if kind == "time":
        return t[:5]
    if kind == "datetime":
        return t[11:16] if len(t) >= 16 and t[13:14] == ":" else None
    return None


def _to_decimal(x: Any) -> Decimal | None:
    if type(x) is int or type(x) is float:
        return Decimal(str(x)) if math.isfinite(x) else None
    if type(x) is str:
        n = _fn_number(x)
        return None if n is None else Decimal(str(n))
    return None


def _fn_money(lang: str, x: Any, currency: Any = "EUR") -> str | None:
    amount = _to_decimal(x)
    if amount is None or type(currency) is not str:
        return None
    try:
        q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    neg = q < 0
    q = abs(q)
    whole, cents = divmod(q, 1)
    body = f"{int(whole):,}"
    cents_s = f"{int(cents * 100):02d}"
    code = currency.upper()
    if _lang(lang) == "it":
        body = body.replace(",", ".")
        num = body if cents_s == "00" else f"{body},{cents_s}"
        unit = "euro" if code == "EUR" else code
        return f"{'-' if neg else ''}{num} {unit}"
    num = body if cents_s == "00" else f"{body}.{cents_s}"
    return f"{'-' if neg else ''}{code} {num}"


def _fn_digits(x: Any) -> str | None:
    if x is None:
        return None
    s = x if type(x) is str else format_value(x, "en")
    return " ".join(ch for ch in s if not ch.isspace())


_PHONE_NOISE = str.maketrans("", "", " .-/()")
_NOT_DIGIT_OR_PLUS = re.compile(r"[^\d+]+")


@lru_cache(maxsize=1024)
def _foreign_phone(e164: str) -> str | None:
    """A non-Italian number ("+447911123456") in its country's international groups, as
    phonenumbers formats it ("+44 7911 123456"; "+1 201-555-0123" → "+1 201 555 0123": the
    ``spell`` filter pauses at spaces only); None when phonenumbers cannot place it."""
    import phonenumbers  # lazily: only a foreign number needs the library here

    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    text = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return " ".join(_NOT_DIGIT_OR_PLUS.sub(" ", text).split())


def phone_read_back(x: Any) -> str | None:
    """The ``phone`` read-back filter: a number in the groups it is said in.

    Italian numbers without +39, in their national groups (``+393471234567`` → ``347 123
    4567``, ``+390612345678`` → ``06 1234 5678``, ``800123456`` → ``800 123 456``); any
    other country's with its prefix, in that country's groups (``+447911123456`` → ``+44
    7911 123456``, ``+12015550123`` → ``+1 201 555 0123``, also written ``0044 …``); other
    text as it is. Plain Python, cheap on the Italian mobile a read-back usually holds: the
    engine's read-back slots and the evaluator both use it (a test pins them together)."""
    if type(x) is not str:
        return None
    if len(x) == 13 and x[:4] == "+393" and x[1:].isdigit() and x.isascii():
        return f"{x[3:6]} {x[6:9]} {x[9:]}"  # an Italian mobile as read: +39 347 123 4567
    s = x.strip()
    compact = s.translate(_PHONE_NOISE)
    if compact.startswith("0039"):
        compact = "+39" + compact[4:]
    if (compact[:1] == "+" and compact[:3] != "+39") or (compact[:2] == "00" and len(compact) > 11):
        foreign = "+" + compact[2:] if compact[:1] == "0" else compact
        if foreign[1:].isdigit() and foreign.isascii():
            grouped = _foreign_phone(foreign)
            if grouped is not None:
                return grouped
        return s
    national = compact[3:] if compact.startswith("+39") else compact
    if not (national.isascii() and national.isdigit()) or not 6 <= len(national) <= 11:
        return s
    if national[0] == "3":  # mobile: 347 123 4567
        head, rest = national[:3], national[3:]
    elif national[0] == "0":  # landline: 06 / 02 have a two-digit area code, else three
        cut = 2 if national[1] in "26" else 3
        head, rest = national[:cut], national[cut:]
    else:  # 800 / 199 numbers and the like
        head, rest = national[:3], national[3:]
    if len(rest) <= 4:
        return f"{head} {rest}"
    split = len(rest) // 2 if len(rest) <= 8 else 4
    return f"{head} {rest[:split]} {rest[split:]}"


def _fn_spell(x: Any, group: Any = None) -> str | None:
    if x is None or (group is not None and (type(group) is not int or group < 1)):
        return None
    s = x if type(x) is str else format_value(x, "en")
    parts = s.split()
    if group is not None:
        joined = "".join(parts)
        parts = [joined[i : i + group] for i in range(0, len(joined), group)]
    return ", ".join(" ".join(part) for part in parts if part)


def _fn_int(x: Any) -> int | None:
    t = type(x)
    if t is int:
        return int(x)
    if t is float:
        return int(x) if math.isfinite(x) else None
    if t is str:
        s = x.strip()
        body = s[1:] if s[:1] in "+-" else s
        if body.isdigit() and body.isascii() and len(body) <= 18:
            return int(s)
        n = _fn_number(s)
        return int(n) if n is not None else None
    return None


def _fn_number(x: Any) -> int | float | None:
    t = type(x)
    if t is int or t is float:
        return _num(x)  # type: ignore[no-any-return]
    if t is not str:
        return None
    s = x.strip().replace(" ", "")
    if not s or len(s) > 40:
        return None
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(",", ".")
    elif "," in s:
        s = s.replace(",", ".")
    body = s[1:] if s[:1] in "+-" else s
    if not body or not all(c.isdigit() or c == "." for c in body) or body.count(".") > 1:
        return None
    if not body.isascii():
        return None
    if "." not in body:
        return int(s)
    f = float(s)
    return f if math.isfinite(f) else None


def _fn_len(x: Any) -> int | None:
    t = type(x)
    if t is str or t is list or t is tuple or t is dict:
        return len(x)
    return None


def _strfn(op: Callable[[str], str]) -> Callable[[Any], str | None]:
    def f(x: Any) -> str | None:
        if x is None:
            return None
        return op(x if type(x) is str else format_value(x, "en"))

    return f


def _part(x: Any, which: str) -> int | None:
    if type(x) is not str and isinstance(x, Mapping):
        v = x.get(which)
        return v if type(v) is int else None
    d = _as_date(x)
    if d is None:
        return None
    return d.year if which == "year" else d.month if which == "month" else d.day


def _fn_weekday(x: Any) -> int | None:
    d = _as_date(x)
    return None if d is None else d.isoweekday()


def _fn_age(now: datetime, birth: Any) -> int | None:
    b = _as_date(birth)
    if b is None:
        return None
    t = now.date()
    return t.year - b.year - ((t.month, t.day) < (b.month, b.day))


def _fn_days(d: Any) -> int | None:
    d = _dur(d)
    if type(d) is Dur:
        years, months = divmod(d.months, 12)
        return years * 365 + months * 30 + d.days + d.seconds // 86400
    if type(d) is int:
        return int(d)
    return None


def _fn_abs(x: Any) -> Any:
    x = _dur(x)
    t = type(x)
    if t is int or t is float:
        return abs(x)
    if t is Dur:
        return x if x.approx_seconds() >= 0 else x.scaled(-1)
    return None


def _fn_round(x: Any, digits: Any = None) -> Any:
    t = type(x)
    if not (t is int or t is float) or not math.isfinite(x):
        return None
    if digits is None:
        return round(x)
    if type(digits) is not int or not -20 <= digits <= 20:
        return None
    return round(x, digits)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def f(*args: Any) -> Any:
        vals = [a for a in args if a is not None]
        if not vals:
            return None
        if all(type(a) is int or type(a) is float for a in vals):
            return pick(vals)
        if all(type(a) is str for a in vals):
            return pick(vals)
        return None

    return f


def _fn_coalesce(*args: Any) -> Any:
    for a in args:
        if _is_set(a):
            return a
    return None


def _fn_contains(s: Any, x: Any) -> bool:
    return _in(x, s) if type(s) is str or type(s) is list or type(s) is tuple else False


def _fn_startswith(s: Any, p: Any) -> bool:
    return type(s) is str and type(p) is str and s.startswith(p)


def _fn_endswith(s: Any, p: Any) -> bool:
    return type(s) is str and type(p) is str and s.endswith(p)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _fn_matches(s: Any, pattern: Any) -> bool:
    """``matches(s, pattern)``: ``re.search``; the compiler has checked the pattern."""
    return type(s) is str and type(pattern) is str and _regex(pattern).search(s) is not None


def _fn_str(x: Any) -> str:
    if type(x) is bool:
        return "true" if x else "false"
    return format_value(x, "en")


def _capitalize(s: str) -> str:
    return s[:1].upper() + s[1:]


# name -> (implementation, what it needs besides its arguments: "", "now" or "lang")
_IMPLS: dict[str, tuple[Callable[..., Any], str]] = {
    "len": (_fn_len, ""),
    "lower": (_strfn(str.lower), ""),
    "upper": (_strfn(str.upper), ""),
    "capitalize": (_strfn(_capitalize), ""),
    "trim": (_strfn(str.strip), ""),
    "contains": (_fn_contains, ""),
    "startswith": (_fn_startswith, ""),
    "endswith": (_fn_endswith, ""),
    "matches": (_fn_matches, ""),
    "year": (lambda x: _part(x, "year"), ""),
    "month": (lambda x: _part(x, "month"), ""),
    "day": (lambda x: _part(x, "day"), ""),
    "weekday": (_fn_weekday, ""),
    "age": (_fn_age, "now"),
    "today": (lambda now: now.date().isoformat(), "now"),
    "now": (lambda now: now.isoformat(timespec="seconds"), "now"),
    "days": (_fn_days, ""),
    "abs": (_fn_abs, ""),
    "round": (_fn_round, ""),
    "min": (_extreme(min), ""),
    "max": (_extreme(max), ""),
    "str": (_fn_str, ""),
    "int": (_fn_int, ""),
    "number": (_fn_number, ""),
    "coalesce": (_fn_coalesce, ""),
    "default": (lambda x, fb: x if _is_set(x) else fb, ""),
    "date": (_fn_date, "lang"),
    "time": (_fn_time, ""),
    "digits": (_fn_digits, ""),
    "phone": (phone_read_back, ""),
    "spell": (_fn_spell, ""),
    "money": (_fn_money, "lang"),
    "article": (_fn_article, ""),
}


# ---------------------------------------------------------------------------------------------
# compilation

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": _lt,
    "<=": _le,
    ">": _gt,
    ">=": _ge,
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
    "in": _in,
}


def _const_fn(v: Any) -> Fn:
    def f(m: Mapping[str, Any], now: datetime) -> Any:
        return v

    return f


def _var_fn(path: tuple[str, ...]) -> Fn:
    if len(path) == 1:
        (k,) = path

        def f1(m: Mapping[str, Any], now: datetime) -> Any:
            return m.get(k)

        return f1
    if len(path) == 2 and not path[1].isdigit():
        k0, k1 = path

        def f2(m: Mapping[str, Any], now: datetime) -> Any:
            x = m.get(k0)
            if type(x) is dict:
                return x.get(k1)
            return get_path(x, (k1,))

        return f2

    def fn(m: Mapping[str, Any], now: datetime) -> Any:
        return get_path(m, path)

    return fn


def _build(e: Expr, lang: str) -> Fn:
    if isinstance(e, Lit):
        return _const_fn(e.v)
    if isinstance(e, DateLit):
        return _const_fn(e.v)
    if isinstance(e, Duration):
        return _const_fn(Dur(days=e.days, months=e.months, seconds=e.seconds))
    if isinstance(e, Var):
        return _var_fn(e.path)
    if isinstance(e, IsSet):
        get = _var_fn(e.path)
        if e.negate:
            return lambda m, now: not _is_set(get(m, now))
        return lambda m, now: _is_set(get(m, now))
    if isinstance(e, ListLit):
        items = [_build(x, lang) for x in e.items]
        return lambda m, now: [f(m, now) for f in items]
    if isinstance(e, Unary):
        a = _build(e.a, lang)
        if e.op == "not":
            return lambda m, now: not _truthy(a(m, now))
        return lambda m, now: _neg(a(m, now))
    if isinstance(e, Binary):
        fa = _build(e.a, lang)
        fb = _build(e.b, lang)
        if e.op == "and":
            return lambda m, now: _truthy(fa(m, now)) and _truthy(fb(m, now))
        if e.op == "or":
            return lambda m, now: _truthy(fa(m, now)) or _truthy(fb(m, now))
        op = _BINOPS[e.op]
        return lambda m, now: op(fa(m, now), fb(m, now))
    if isinstance(e, Call):
        return _build_call(e, lang)
    raise TypeError(f"not an expression: {type(e).__name__}")  # pragma: no cover


def _build_call(e: Call, lang: str) -> Fn:
    entry = _IMPLS.get(e.fn)
    if entry is None:
        return _const_fn(None)
    impl, needs = entry
    args = [_build(x, lang) for x in e.args]

    # today(), date(value), now() … : no list of arguments to build for none or one
    if needs in ("now", "lang") and len(args) <= 1:
        at_now = needs == "now"
        if not args:

            def call0(m: Mapping[str, Any], now: datetime) -> Any:
                try:
                    return impl(now if at_now else lang)
                except Exception:  # noqa: BLE001 - a function never breaks a dialogue
                    return None

            return call0
        (g0,) = args

        def call_one(m: Mapping[str, Any], now: datetime) -> Any:
            try:
                return impl(now if at_now else lang, g0(m, now))
            except Exception:  # noqa: BLE001
                return None

        return call_one
    if needs == "now":

        def call_now(m: Mapping[str, Any], now: datetime) -> Any:
            try:
                return impl(now, *[f(m, now) for f in args])
            except Exception:  # noqa: BLE001 - a function never breaks a dialogue
                return None

        return call_now
    if needs == "lang":

        def call_lang(m: Mapping[str, Any], now: datetime) -> Any:
            try:
                return impl(lang, *[f(m, now) for f in args])
            except Exception:  # noqa: BLE001
                return None

        return call_lang
    if len(args) == 1:
        (f0,) = args

        def call1(m: Mapping[str, Any], now: datetime) -> Any:
            try:
                return impl(f0(m, now))
            except Exception:  # noqa: BLE001
                return None

        return call1
    if len(args) == 2:
        a0, a1 = args

        def call2(m: Mapping[str, Any], now: datetime) -> Any:
            try:
                return impl(a0(m, now), a1(m, now))
            except Exception:  # noqa: BLE001
                return None

        return call2

    def call(m: Mapping[str, Any], now: datetime) -> Any:
        try:
            return impl(*[f(m, now) for f in args])
        except Exception:  # noqa: BLE001
            return None

    return call


def _safe(f: Fn) -> Fn:
    def run(m: Mapping[str, Any], now: datetime) -> Any:
        try:
            return f(m, now)
        except Exception:  # noqa: BLE001 - evaluation never raises
            return None

    return run


# id(expr) -> (weak reference to expr, {lang: compiled}); entries leave with their expression
_CACHE: dict[int, tuple[weakref.ref[Any], dict[str, Any]]] = {}


def _forget(key: int) -> Callable[[weakref.ref[Any]], None]:
    def drop(_ref: weakref.ref[Any]) -> None:
        _CACHE.pop(key, None)

    return drop


def _cached(obj: Any, lang: str, make: Callable[[], Any]) -> Any:
    key = id(obj)
    entry = _CACHE.get(key)
    if entry is not None and entry[0]() is obj:
        fn = entry[1].get(lang)
        if fn is not None:
            return fn
    else:
        entry = (weakref.ref(obj, _forget(key)), {})
        _CACHE[key] = entry
    fn = make()
    entry[1][lang] = fn
    return fn


def compile_expr(expr: Expr, *, lang: str = "en") -> Fn:
    """Compile ``expr`` into a function ``(memory, now) -> value``, once per expression
    object (later calls return the same function). ``lang`` only matters to the
    ``date`` and ``money`` functions."""
    fn: Fn = _cached(expr, lang, lambda: _safe(_build(expr, lang)))
    return fn


def evaluate(expr: Expr, memory: Mapping[str, Any], now: datetime, *, lang: str = "en") -> Any:
    """Evaluate ``expr`` against ``memory`` at time ``now``; never raises."""
    return compile_expr(expr, lang=lang)(memory, now)


def _build_template(template: Template, lang: str) -> Callable[[Mapping[str, Any], datetime], str]:
    pieces: list[str | Fn] = []
    for p in template.parts:
        if isinstance(p, ExprPart):
            pieces.append(_build(p.expr, lang))  # run() below catches what it raises
        elif pieces and isinstance(pieces[-1], str):
            pieces[-1] += p.text
        else:
            pieces.append(p.text)
    if all(isinstance(x, str) for x in pieces):
        text = "".join(x for x in pieces if isinstance(x, str))
        return lambda m, now: text

    def run(m: Mapping[str, Any], now: datetime) -> str:
        out = []
        for x in pieces:
            if type(x) is str:
                out.append(x)
            else:
                try:
                    out.append(format_value(x(m, now), lang))  # type: ignore[operator]
                except Exception:  # noqa: BLE001
                    pass
        return "".join(out)

    return run


def compile_template(template: Template, lang: str) -> Callable[[Mapping[str, Any], datetime], str]:
    """``template`` compiled for ``lang`` into a function ``(memory, now) -> text``, once
    per template object: what ``render`` runs, for callers that keep it."""
    run: Callable[[Mapping[str, Any], datetime], str] = _cached(
        template, lang, lambda: _build_template(template, lang)
    )
    return run


def render(template: Template, memory: Mapping[str, Any], now: datetime, lang: str) -> str:
    """Render a prompt template: text as written, each ``{{ }}`` slot through
    ``format_value`` (None renders as nothing). Never raises."""
    return compile_template(template, lang)(memory, now)


def jsonable(v: Any) -> Any:
    """``v`` as a JSON value for memory: a duration becomes
    ``{"days": …, "months": …, "seconds": …}`` (which the evaluator reads back as a
    duration); lists and dicts are converted deeply."""
    t = type(v)
    if t is Dur:
        return {"days": v.days, "months": v.months, "seconds": v.seconds}
    if t is list or t is tuple:
        return [jsonable(x) for x in v]
    if t is dict:
        return {str(k): jsonable(x) for k, x in v.items()}
    return v
