"""The effect executor: carries out the actions ``step`` cannot (it is pure) and turns each
result into an event.

Backend calls go through httpx (timeout, retries with exponential backoff, a circuit
breaker per backend, a response size limit, http/https only, JSON decoding), e-mail over
SMTP (smtplib in a worker thread), SMS through an HTTP gateway (a JSON POST). Every result
is a ``BackendResultEvent`` whose ``at`` comes from the caller's clock, read when the
effect completes — never inside ``step``. NER/LLM ``extract`` actions answer "no match"
unless an extractor is configured.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from schemas.actions import (
    Action,
    CallBackendAction,
    ExtractAction,
    SendEmailAction,
    SendSmsAction,
)
from schemas.events import BackendError, BackendResultEvent, ExtractionResultEvent

__all__ = [
    "EMAIL_BACKEND",
    "SMS_BACKEND",
    "Clock",
    "EffectExecutor",
    "Effects",
    "SmsGateway",
    "SmtpSettings",
    "StubEffects",
    "StubResponse",
]

Clock = Callable[[], datetime]
EMAIL_BACKEND = "email"  # BackendResultEvent.backend for the result of a send_email
SMS_BACKEND = "sms"  # ... and of a send_sms
ResultEvent = BackendResultEvent | ExtractionResultEvent


class Effects(Protocol):
    """What the driver needs: run one effect action, answer its result event."""

    async def execute(self, action: Action, *, clock: Clock) -> ResultEvent | None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "ddtflow@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class SmsGateway:
    """A JSON gateway: ``POST url`` with ``{"to", "text", "sender"}``; 2xx means accepted."""

    url: str
    sender: str = "ddtflow"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_ms: int = 5000
    retries: int = 1
    backoff_ms: int = 200


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    opened_at: float | None = None


class _Failure(Exception):
    def __init__(self, error: BackendError, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.error: BackendError = error
        self.detail = detail
        self.status = status


class EffectExecutor:
    """Runs effects for real. One per process; ``aclose`` it when done."""

    def __init__(
        self,
        *,
        smtp: SmtpSettings | None = None,
        sms: SmsGateway | None = None,
        client: httpx.AsyncClient | None = None,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._own_client = client is None
        self.smtp = smtp
        self.sms = sms
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown_s = breaker_cooldown_s
        self._monotonic = monotonic
        self._breakers: dict[str, _Breaker] = {}
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts)  # empty: any host

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def execute(self, action: Action, *, clock: Clock) -> ResultEvent | None:
        """The result event of ``action``, or None when it is not an effect (say, listen…)."""
        if isinstance(action, CallBackendAction):
            return await self._backend(action, clock)
        if isinstance(action, SendEmailAction):
            return await self._email(action, clock)
        if isinstance(action, SendSmsAction):
            return await self._sms(action, clock)
        if isinstance(action, ExtractAction):
            return ExtractionResultEvent(at=clock(), layer=action.layer, no_match=True)
        return None

    # -- circuit breaker ------------------------------------------------------------

    def breaker_open(self, name: str) -> bool:
        b = self._breakers.get(name)
        if b is None or b.opened_at is None:
            return False
        if self._monotonic() - b.opened_at >= self.breaker_cooldown_s:
            return False  # half-open: let one call through
        return True

    def _record(self, name: str, ok: bool) -> None:
        b = self._breakers.setdefault(name, _Breaker())
        if ok:
            b.failures, b.opened_at = 0, None
            return
        b.failures += 1
        if b.failures >= self.breaker_threshold:
            b.opened_at = self._monotonic()

    # -- HTTP -----------------------------------------------------------------------

    async def _http(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any,
        timeout_ms: int,
        retries: int,
        backoff_ms: int,
        max_bytes: int,
    ) -> tuple[int, Any]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise _Failure("refused", f"only http and https URLs are allowed, not {scheme!r}")
        host = (parts.hostname or "").lower()
        if self.allowed_hosts and not any(fnmatchcase(host, p) for p in self.allowed_hosts):
            raise _Failure("refused", f"host {host!r} is not in DDTFLOW_BACKEND_HOSTS")
        content = None if body is None else orjson.dumps(body)
        hdrs = dict(headers)
        if content is not None:
            hdrs.setdefault("content-type", "application/json")
        hdrs.setdefault("accept", "application/json")
        timeout = httpx.Timeout(timeout_ms / 1000)
        last: _Failure | None = None
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(backoff_ms / 1000 * (2 ** (attempt - 1)))
            try:
                status, data = await self._once(method, url, hdrs, content, timeout, max_bytes)
            except _Failure as f:
                last = f
                if f.error == "invalid_response" or (f.status is not None and f.status < 500):
                    raise
                continue
            return status, data
        assert last is not None
        raise last

    async def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        timeout: httpx.Timeout,
        max_bytes: int,
    ) -> tuple[int, Any]:
        try:
            async with self._client.stream(
                method, url, headers=headers, content=content, timeout=timeout
            ) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _Failure(
                            "invalid_response",
                            f"response larger than {max_bytes} bytes",
                            resp.status_code,
                        )
                    chunks.append(chunk)
                status = resp.status_code
        except httpx.TimeoutException:
            raise _Failure("timeout", f"no answer within {timeout.read} s") from None
        except httpx.HTTPError as e:
            raise _Failure("error", f"{type(e).__name__}: {e}") from None
        raw = b"".join(chunks)
        if status >= 400:
            raise _Failure("error", f"HTTP {status}", status)
        if status >= 300:  # redirects are not followed: the URL is fixed by the program
            raise _Failure("error", f"HTTP {status} (redirects are not followed)", status)
        if not raw.strip():
            return status, None
        try:
            return status, orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Failure("invalid_response", "the response is not JSON", status) from None

    async def _backend(self, a: CallBackendAction, clock: Clock) -> BackendResultEvent:
        if self.breaker_open(a.backend):
            return BackendResultEvent(
                at=clock(),
                backend=a.backend,
                ok=False,
                error="circuit_open",
                detail=f"circuit open after {self.breaker_threshold} failures",
            )
        try:
            status, data = await self._http(
                a.method,
                a.url,
                headers=a.headers,
                body=a.body,
                timeout_ms=a.timeout_ms,
                retries=a.retries,
                backoff_ms=a.backoff_ms,
                max_bytes=a.max_response_bytes,
            )
        except _Failure as f:
            if f.error != "refused":
                self._record(a.backend, False)
            return BackendResultEvent(
                at=clock(),
                backend=a.backend,
                ok=False,
                status=f.status,
                error=f.error,
                detail=f.detail,
            )
        self._record(a.backend, True)
        return BackendResultEvent(at=clock(), backend=a.backend, ok=True, status=status, body=data)

    # -- e-mail ---------------------------------------------------------------------

    def _send_mail(self, a: SendEmailAction) -> None:
        s = self.smtp
        assert s is not None
        msg = EmailMessage()
        msg["From"] = s.sender
        msg["To"] = a.to
        msg["Subject"] = a.subject
        msg.set_content(a.body)
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
            if s.starttls:
                smtp.starttls()
            if s.username:
                smtp.login(s.username, s.password or "")
            smtp.send_message(msg)

    async def _email(self, a: SendEmailAction, clock: Clock) -> BackendResultEvent:
        if self.smtp is None:
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                error="error",
                detail="no SMTP server configured",
            )
        if "@" not in a.to or any(c in a.to for c in "\r\n,;<>"):
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                error="refused",
                detail=f"not an e-mail address: {a.to!r}",
            )
        try:
            await asyncio.to_thread(self._send_mail, a)
        except smtplib.SMTPResponseException as e:
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                status=e.smtp_code,
                error="refused",
                detail=f"SMTP {e.smtp_code}: {_text(e.smtp_error)}",
            )
        except smtplib.SMTPRecipientsRefused as e:
            codes = [f"{r}: {c} {_text(m)}" for r, (c, m) in e.recipients.items()]
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                error="refused",
                detail="recipient refused: " + "; ".join(codes),
            )
        except TimeoutError:
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                error="timeout",
                detail="the SMTP server did not answer in time",
            )
        except (OSError, smtplib.SMTPException) as e:
            return BackendResultEvent(
                at=clock(),
                backend=EMAIL_BACKEND,
                ok=False,
                error="error",
                detail=f"SMTP: {type(e).__name__}: {e}",
            )
        return BackendResultEvent(at=clock(), backend=EMAIL_BACKEND, ok=True, status=250)

    # -- SMS ------------------------------------------------------------------------

    async def _sms(self, a: SendSmsAction, clock: Clock) -> BackendResultEvent:
        g = self.sms
        if g is None:
            return BackendResultEvent(
                at=clock(),
                backend=SMS_BACKEND,
                ok=False,
                error="error",
                detail="no SMS gateway configured",
            )
        try:
            status, data = await self._http(
                "POST",
                g.url,
                headers=g.headers,
                body={"to": a.to, "text": a.text, "sender": g.sender},
                timeout_ms=g.timeout_ms,
                retries=g.retries,
                backoff_ms=g.backoff_ms,
                max_bytes=65_536,
            )
        except _Failure as f:
            return BackendResultEvent(
                at=clock(),
                backend=SMS_BACKEND,
                ok=False,
                status=f.status,
                error=f.error,
                detail=f.detail,
            )
        return BackendResultEvent(
            at=clock(), backend=SMS_BACKEND, ok=True, status=status, body=data
        )


def _text(b: bytes | str) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


# --------------------------------------------------------------------------- stubs


@dataclass(frozen=True, slots=True)
class StubResponse:
    """A canned backend answer (conversation tests, ``chat --backend-stub``)."""

    status: int = 200
    body: Any = None
    error: BackendError | None = None
    detail: str | None = None

    @classmethod
    def parse(cls, data: Any) -> StubResponse:
        """From YAML: ``ok``, ``{status, body}``, ``{error: timeout}`` or a bare body."""
        if data == "ok" or data is None:
            return cls()
        if isinstance(data, str):
            if data in ("timeout", "error", "invalid_response", "circuit_open", "refused"):
                return cls(status=0, error=data)  # type: ignore[arg-type]
            raise ValueError(f"unknown stub response {data!r}")
        if isinstance(data, Mapping) and set(data) <= {"status", "body", "error", "detail"}:
            err = data.get("error")
            if err is not None and err not in (
                "timeout",
                "error",
                "invalid_response",
                "circuit_open",
                "refused",
            ):
                raise ValueError(f"unknown backend error {err!r}")
            status = int(data.get("status", 0 if err else 200))
            return cls(status=status, body=data.get("body"), error=err, detail=data.get("detail"))
        raise ValueError("a stub response is ok, an error name, or {status, body} / {error}")


class StubEffects:
    """Effects answered from canned responses, per backend name (``email`` and ``sms``
    included), in order; the last response repeats. Also records every action executed."""

    def __init__(
        self,
        responses: Mapping[str, list[StubResponse]] | None = None,
        *,
        default_messages_ok: bool = True,
    ) -> None:
        self.responses = {k: list(v) for k, v in (responses or {}).items()}
        self.default_messages_ok = default_messages_ok
        self.calls: list[Action] = []
        self._next: dict[str, int] = {}

    async def aclose(self) -> None:
        return None

    def answer(self, name: str) -> StubResponse | None:
        seq = self.responses.get(name)
        if not seq:
            if name in (EMAIL_BACKEND, SMS_BACKEND) and self.default_messages_ok:
                return StubResponse()
            return None
        i = self._next.get(name, 0)
        self._next[name] = i + 1
        return seq[min(i, len(seq) - 1)]

    async def execute(self, action: Action, *, clock: Clock) -> ResultEvent | None:
        if isinstance(action, ExtractAction):
            self.calls.append(action)
            return ExtractionResultEvent(at=clock(), layer=action.layer, no_match=True)
        if isinstance(action, CallBackendAction):
            name = action.backend
        elif isinstance(action, SendEmailAction):
            name = EMAIL_BACKEND
        elif isinstance(action, SendSmsAction):
            name = SMS_BACKEND
        else:
            return None
        self.calls.append(action)
        r = self.answer(name)
        if r is None:
            return BackendResultEvent(
                at=clock(),
                backend=name,
                ok=False,
                error="error",
                detail=f"no canned response for backend {name!r}",
            )
        if r.error is not None:
            return BackendResultEvent(
                at=clock(),
                backend=name,
                ok=False,
                status=r.status or None,
                error=r.error,
                detail=r.detail or r.error,
            )
        if r.status >= 400:
            return BackendResultEvent(
                at=clock(),
                backend=name,
                ok=False,
                status=r.status,
                error="error",
                detail=f"HTTP {r.status}",
            )
        return BackendResultEvent(at=clock(), backend=name, ok=True, status=r.status, body=r.body)
