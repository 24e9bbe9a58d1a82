"""``ddtflow extract``: run one built-in extractor on an utterance, or a batch of JSON lines.

    ddtflow extract date "il 3 marzo 1980" --lang it --at 2025-06-11T10:30:00+00:00
    {"value": "1980-03-03", "layer": "grammar", "confidence": 1.0}

    echo '{"type": "time", "lang": "en", "text": "5 pm"}' | ddtflow extract --jsonl

``--at`` defaults to the current time here only: the engine itself never reads a clock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

from ddt_engine.extract import TYPE_NAMES, Extraction, ExtractOptions, extract

LANGS = ("it", "en")

__all__ = ["extraction_json", "iter_jsonl", "register", "run_jsonl"]


class InputError(ValueError):
    """A bad request: the message is shown to the user as is."""


def extraction_json(found: Extraction | None) -> dict[str, Any]:
    """The JSON object printed for one extraction."""
    if found is None:
        return {"no_match": True}
    if found.invalid:
        return {"invalid": found.invalid}
    out: dict[str, Any] = {
        "value": found.value,
        "layer": found.layer,
        "confidence": found.confidence,
    }
    if found.uncertain:
        out["uncertain"] = True
    return out


def _check_type(type_name: object) -> str:
    if not isinstance(type_name, str) or type_name not in TYPE_NAMES:
        raise InputError(f"unknown type {type_name!r}; types: {', '.join(TYPE_NAMES)}")
    return type_name


def _check_lang(lang: object) -> str:
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; languages: {', '.join(LANGS)}")
    assert isinstance(lang, str)
    return lang


def _parse_at(at: object, default: datetime) -> datetime:
    if at is None:
        return default
    if not isinstance(at, str):
        raise InputError(f"'at' must be an ISO-8601 string, not {type(at).__name__}")
    try:
        return datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"bad 'at' {at!r}: expected ISO-8601, e.g. 2025-06-11T10:30:00+00:00"
        ) from None


def _choices(raw: object, lang: str) -> Mapping[str, Mapping[str, Sequence[str]]]:
    """Choices as a list of values, {value: [synonyms]} or {value: {lang: [synonyms]}}."""
    if raw is None:
        return {}
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return {v: {lang: []} for v in raw}
    if isinstance(raw, dict):
        out: dict[str, Mapping[str, Sequence[str]]] = {}
        for value, syn in raw.items():
            if isinstance(syn, list) and all(isinstance(s, str) for s in syn):
                out[str(value)] = {lang: list(syn)}
            elif isinstance(syn, dict) and all(
                isinstance(ss, list) and all(isinstance(s, str) for s in ss) for ss in syn.values()
            ):
                out[str(value)] = {str(k): list(v) for k, v in syn.items()}
            else:
                raise InputError(f"bad synonyms for choice {value!r}")
        return out
    raise InputError("'choices' must be a list of values or an object of synonyms")


def _choice_options(specs: Sequence[str], lang: str) -> dict[str, Mapping[str, Sequence[str]]]:
    out: dict[str, Mapping[str, Sequence[str]]] = {}
    for spec in specs:
        value, _, syns = spec.partition("=")
        if not value.strip():
            raise InputError(f"bad --choice {spec!r}: expected VALUE or VALUE=syn1,syn2")
        out[value.strip()] = {lang: [s.strip() for s in syns.split(",") if s.strip()]}
    return out


def run_one(record: object, now: datetime) -> dict[str, Any]:
    """One JSONL request {"type", "lang", "text", "at"[, "choices"]} → its JSON answer."""
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object with type, lang, text, at")
    type_name = _check_type(record.get("type"))
    lang = _check_lang(record.get("lang", "it"))
    text = record.get("text")
    if not isinstance(text, str):
        raise InputError("'text' must be a string")
    at = _parse_at(record.get("at"), now)
    choices = _choices(record.get("choices"), lang)
    if type_name == "choice" and not choices:
        raise InputError("type choice needs 'choices': a list of values or an object of synonyms")
    options = ExtractOptions(choices=choices)
    return extraction_json(extract(type_name, text, lang, at, options))


def _text_of(raw: str | bytes) -> str:
    """A line as text; InputError when it is not UTF-8 (read as bytes, or as text with
    ``surrogateescape``)."""
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
            ) from None
    for i, ch in enumerate(raw):
        if "\udc80" <= ch <= "\udcff":
            raise InputError(f"not UTF-8 text (byte 0x{ord(ch) - 0xDC00:02x} at offset {i})")
    return raw


def iter_jsonl(lines: Iterable[str | bytes], now: datetime) -> Iterator[tuple[str, bool]]:
    """The answer to each non-blank line as soon as it is read: (JSON line, ok)."""
    for n, raw in enumerate(lines, 1):
        ok = False
        try:
            line = _text_of(raw)
            if not line.strip():
                continue
            record = json.loads(line)
            answer = run_one(record, now)
            ok = True
        except json.JSONDecodeError as exc:
            answer = {"error": f"line {n}: not JSON: {exc.msg} at column {exc.colno}"}
        except InputError as exc:
            answer = {"error": f"line {n}: {exc}"}
        except Exception as exc:  # never a traceback to the user
            answer = {"error": f"line {n}: internal error: {type(exc).__name__}"}
        yield json.dumps(answer, ensure_ascii=False), ok


def run_jsonl(lines: Iterable[str | bytes], now: datetime) -> tuple[list[str], bool]:
    """Answer every non-blank line; (output lines, all ok)."""
    answers = list(iter_jsonl(lines, now))
    return [a for a, _ in answers], all(ok for _, ok in answers)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def extract_cmd(
    type_name: Annotated[
        str | None, typer.Argument(metavar="TYPE", help=f"One of: {', '.join(TYPE_NAMES)}.")
    ] = None,
    utterance: Annotated[str | None, typer.Argument(help="What the caller said.")] = None,
    lang: Annotated[str, typer.Option("--lang", "-l", help="it or en.")] = "it",
    at: Annotated[
        str | None,
        typer.Option("--at", help="ISO-8601 'now' for relative dates (default: the clock)."),
    ] = None,
    choice: Annotated[
        list[str] | None,
        typer.Option("--choice", help="For type choice: VALUE or VALUE=syn1,syn2 (repeat)."),
    ] = None,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help='Read {"type","lang","text","at"} JSON lines on stdin.'),
    ] = False,
) -> None:
    """Extract a value from an utterance and print one JSON line."""
    now = datetime.now().astimezone()  # the CLI's default only; extractors never read it
    if jsonl:
        if type_name is not None or utterance is not None:
            _fail("--jsonl reads requests on stdin: do not pass TYPE or UTTERANCE")
        stdin = sys.stdin  # None when started with stdin closed: no requests
        source: Iterable[str | bytes] = () if stdin is None else getattr(stdin, "buffer", stdin)
        all_ok = True
        for line, ok in iter_jsonl(source, now):  # each answer at once: a pipe can wait
            typer.echo(line)
            all_ok = all_ok and ok
        raise typer.Exit(0 if all_ok else 1)
    try:
        if type_name is None or utterance is None:
            raise InputError('usage: ddtflow extract TYPE "utterance" [--lang it|en] [--at ISO]')
        kind = _check_type(type_name)
        language = _check_lang(lang)
        when = _parse_at(at, now)
        if kind == "choice" and not choice:
            raise InputError(
                "type choice needs its choices: --choice VALUE or --choice VALUE=syn1,syn2 "
                '(repeat), e.g. ddtflow extract choice "il rosso" --choice rosso --choice blu'
            )
        options = ExtractOptions(choices=_choice_options(choice or [], language))
        answer = extraction_json(extract(kind, utterance, language, when, options))
    except InputError as exc:
        _fail(str(exc))
    except Exception as exc:  # never a traceback to the user
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    typer.echo(json.dumps(answer, ensure_ascii=False))


EPILOG = (
    "Examples:\n"
    'ddtflow extract date "il tre marzo millenovecentottanta"\n'
    'ddtflow extract date "tomorrow" --lang en --at 2026-03-02T10:00:00+01:00\n'
    'ddtflow extract choice "il rosso" --choice rosso=red,scarlatto --choice blu\n'
    """echo '{"type": "time", "lang": "en", "text": "5 pm"}' | ddtflow extract --jsonl"""
)


def register(app: typer.Typer) -> None:
    app.command("extract", epilog=EPILOG)(extract_cmd)
