"""Checks of prompt texts shared by the flow and DDT stages: empty texts, SSML markup,
placeholders of other template languages (``{name}``: said as written).

A voice variant is SSML: the runtime sends it to the text-to-speech engine as it is (wrapped
in ``<speak>`` when it has no root of its own), so markup that is not well-formed XML, or an
element no SSML engine knows, fails only when a caller reaches that prompt. Here the
template's ``{{ … }}`` slots are replaced by a plain word (the runtime XML-escapes the values
it inserts) and the rest must parse. Vendor elements with a prefix (``amazon:effect``,
``mstts:express-as``) are accepted without a namespace declaration, as the engines do.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from xml.parsers import expat

from schemas.expressions import Binary, Call, Expr, Lit, Template, TextPart

__all__ = ["SsmlProblem", "empty_text", "placeholder_typo", "placeholder_warning", "ssml_problem"]

SSML_ELEMENTS = (
    "speak",
    "break",
    "prosody",
    "emphasis",
    "say-as",
    "phoneme",
    "sub",
    "p",
    "s",
    "audio",
    "mark",
    "lang",
    "voice",
    "w",
    "desc",
    "par",
    "seq",
    "media",
)


def empty_text(template: Template) -> bool:
    """True when the template says nothing at all, whatever the session holds: blank text
    and slots that always render blank (``{{ '' }}``, ``{{ ' ' | upper }}``, ``{{ null }}``).
    A slot that reads a variable or calls another function may say something: not empty."""
    return all(
        not p.text.strip() if isinstance(p, TextPart) else _always_blank(p.expr)
        for p in template.parts
    )


# filters that keep a blank text blank (ddt_engine.expressions: lower, upper, capitalize, trim)
_BLANK_KEEPING = frozenset({"lower", "upper", "capitalize", "trim"})


def _always_blank(expr: Expr) -> bool:
    """True when ``expr`` renders as blank text on every path (None renders as '')."""
    if isinstance(expr, Lit):
        return expr.v is None or (isinstance(expr.v, str) and not expr.v.strip())
    if isinstance(expr, Call):
        return expr.fn in _BLANK_KEEPING and len(expr.args) == 1 and _always_blank(expr.args[0])
    if isinstance(expr, Binary) and expr.op == "+":
        # only text + text is text; a blank literal on each side is the case to catch
        return _blank_str(expr.a) and _blank_str(expr.b)
    return False


def _blank_str(expr: Expr) -> bool:
    if isinstance(expr, Lit):
        return isinstance(expr.v, str) and not expr.v.strip()
    return isinstance(expr, Binary | Call) and _always_blank(expr)


_SLOT = re.compile(r"(?<!\\)\{\{.*?\}\}", re.S)

# What other template languages write for a value: said as it is here ("Ciao {name}").
_OTHER_PLACEHOLDER = re.compile(
    r"\$\{\s*[A-Za-z_][\w.]*\s*\}"  # ${name}
    r"|(?<![{\\])\{\s*[A-Za-z_][\w.]*\s*\}(?!\})"  # {name}
    r"|\{%.*?%\}"  # {% if … %}
    r"|%\([A-Za-z_]\w*\)s"  # %(name)s
)


def placeholder_typo(template: Template) -> str | None:
    """A placeholder of another template language in the template's text (``{name}``,
    ``${name}``, ``{% … %}``, ``%(name)s``): it would be said as written."""
    for part in template.parts:
        if isinstance(part, TextPart) and (m := _OTHER_PLACEHOLDER.search(part.text)):
            return m.group(0)
    return None


@dataclass(frozen=True)
class SsmlProblem:
    message: str
    hint: str
    col: int | None = None  # 1-based, in the template's source text


def ssml_problem(source: str) -> SsmlProblem | None:
    """What makes the voice template ``source`` (already parsed) SSML no engine accepts."""
    # a slot becomes filler of the same length, so that expat's offsets are the source's
    text = _SLOT.sub(lambda m: "x" * len(m.group(0)), source)
    if "<!" in text or "<?" in text:
        return SsmlProblem(
            "SSML with a declaration ('<!…>' or '<?…?>')",
            "write only the markup: <speak>, <break time='300ms'/>, <say-as …> …",
        )
    root = text.lstrip().startswith("<speak")
    doc = text if root else f"<speak>{text}</speak>"
    names: list[str] = []
    parser = expat.ParserCreate()
    parser.StartElementHandler = lambda name, attrs: names.append(name)
    try:
        parser.Parse(doc, True)
    except expat.ExpatError as e:
        message = expat.ErrorString(e.code) or "not well-formed"
        hint = "quote attribute values, close every element (<break/> closes itself)"
        if "&" in text and ("entity" in message or "not well-formed" in message):
            hint = "write & as &amp; (and < as &lt;) in SSML"
        lines = doc.split("\n")
        at = sum(len(line) + 1 for line in lines[: e.lineno - 1]) + e.offset
        at -= 0 if root else len("<speak>")
        at -= 1 if 0 < at <= len(text) and text[at - 1] == "&" else 0  # expat: after the '&'
        col = at + 1 if 0 <= at < len(text) else None
        why = message.removeprefix("not well-formed").strip(" ()") or "not well-formed"
        return SsmlProblem(f"not well-formed SSML: {why}", hint, col)
    if names[0] != "speak":
        return SsmlProblem(
            f"the SSML root is <{names[0]}>, not <speak>", "wrap the text in <speak>…</speak>"
        )
    for name in names[1:]:
        if name == "speak":
            return SsmlProblem(
                "<speak> inside <speak>", "write <speak> once, around the whole text"
            )
        if ":" in name or name in SSML_ELEMENTS:
            continue
        close = difflib.get_close_matches(name, SSML_ELEMENTS, n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else "SSML elements: " + ", ".join(SSML_ELEMENTS[:10])
        )
        return SsmlProblem(f"unknown SSML element <{name}>", hint, text.find("<" + name) + 1)
    return None


def placeholder_warning(typo: str) -> tuple[str, str]:
    """The message and hint of W008 for ``typo``."""
    message = f"'{typo}' is not a placeholder here: it would be said as written"
    if typo.startswith("{%"):
        return message, "templates have no statements: put the choice on the flow's edges"
    name = re.sub(r"[^\w.]", "", typo.removeprefix("%(").removesuffix(")s"))
    return message, f"a value is written {{{{ {name} }}}}"
