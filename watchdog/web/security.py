"""The HTTP server's own protection, as one aiohttp middleware over every route, so a route
added later (a status page, say) is covered without doing anything.

- Authentication, from the web config file (exporter-toolkit format, config/web.py): basic
  auth with bcrypt hashes, and/or client certificates verified by the TLS layer. When it is
  configured, every route needs it but two probes: /healthz (says only "ok"; liveness probes
  cannot carry credentials) and /readyz, which answers an unauthenticated caller with its
  status code and `{"ready": ...}` only (readiness probes), the details to authenticated ones.
- Writes (any method but GET/HEAD/OPTIONS: adding or expiring silences) need an
  authenticated caller, or `server.allow_unauthenticated_writes: true`; else 403 with the
  reason. They must be JSON (415 otherwise: an HTML form cannot send it) and must not come
  from another site (Origin / Sec-Fetch-Site checks, 403), so a web page a person on call
  happens to open cannot silence their pager through their browser.
- Every request ends within `server.request_timeout`.
- Who made a request (`request["user"]`) is what the audit log of a change names.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import bcrypt
from aiohttp import hdrs, web

from kafka_watchdog.config.web import LoadedWebConfig

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/healthz"})  # answered to anyone: they say nothing
PROBE_PATHS = frozenset({"/readyz"})  # status code to anyone, details to the authenticated
CACHE_SECONDS = 60.0  # a verified (user, password) is not hashed again for this long
# bcrypt is slow on purpose (~50-250 ms a check): at most this many at once, so a flood of
# wrong passwords cannot take both cores from collection and alerting.
BCRYPT_CONCURRENCY = 2
# Compared against when the user is unknown, so an unknown user costs as much as a known
# one (no user enumeration by timing). Made once, lazily.
_DUMMY: list[bytes] = []

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class WebGuard:
    """What the middleware enforces; replaced whole on SIGHUP (config reload)."""

    loaded: LoadedWebConfig
    allow_unauthenticated_writes: bool = False
    request_timeout: float = 30.0
    # Requests in progress, by connection: the connection cap closes only idle ones.
    busy: set[Any] = field(default_factory=set)
    _verified: dict[tuple[str, str], float] = field(default_factory=dict)
    _bcrypt: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(BCRYPT_CONCURRENCY)
    )

    def replace(self, loaded: LoadedWebConfig) -> None:
        """A reloaded web config: what was verified against the old users is forgotten."""
        self.loaded = loaded
        self._verified.clear()

    @property
    def users(self) -> dict[str, str]:
        return self.loaded.config.basic_auth_users

    async def check_password(self, user: str, password: str) -> bool:
        digest = hashlib.sha256(f"{user}\0{password}".encode()).hexdigest()
        now = time.monotonic()
        key = (user, digest)
        hashed = self.users.get(user)
        if hashed is not None and self._verified.get(key, 0.0) > now:
            return True
        if not _DUMMY:
            _DUMMY.append(bcrypt.hashpw(b"unused", bcrypt.gensalt(rounds=10)))
        target = hashed.encode() if hashed is not None else _DUMMY[0]
        async with self._bcrypt:
            try:
                ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), target)
            except ValueError:  # a malformed hash (checked at load; defensive)
                ok = False
        if ok and hashed is not None:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[key] = now + CACHE_SECONDS
            return True
        return False

    async def identify(self, request: web.Request) -> str | None:
        """The authenticated caller, or None. Raises 401 for wrong credentials."""
        who = _client_certificate_name(request)
        tls = self.loaded.config.tls_server_config
        allowed = set(tls.client_allowed_sans) if tls is not None else set()
        if who is not None and allowed and not _names(request) & allowed:
            raise web.HTTPForbidden(
                text="client certificate not allowed (tls_server_config.client_allowed_sans)\n"
            )
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header and self.users:
            login, password = _basic_credentials(header)
            if not await self.check_password(login, password):
                log.warning(
                    "HTTP authentication failed",
                    extra={"user": login[:64], "remote": request.remote, "path": request.path},
                )
                raise _unauthorized("wrong user or password")
            return login
        return who


def _client_certificate_name(request: web.Request) -> str | None:
    """The verified client certificate's common name (the TLS layer checked it)."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return f"cert:{value}"[:128]
    return "cert:(no CN)"


def _basic_credentials(header: str) -> tuple[str, str]:
    """(user, password) of an `Authorization: Basic ...` header (RFC 7617, UTF-8)."""
    kind, _, encoded = header.strip().partition(" ")
    try:
        if kind.lower() != "basic":
            raise ValueError(kind)
        login, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (ValueError, UnicodeDecodeError):
        raise _unauthorized("malformed Authorization header (expected Basic)") from None
    if not sep:
        raise _unauthorized("malformed Authorization header (expected Basic)")
    return login, password


def _names(request: web.Request) -> set[str]:
    """The verified client certificate's subject alternative names and common name."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    names = {str(value) for _, value in (cert or {}).get("subjectAltName", ())}
    for rdn in (cert or {}).get("subject", ()):
        names.update(str(value) for key, value in rdn if key == "commonName")
    return names


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=f"authentication required: {reason}\n",
        headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="kafka-watchdog", charset="UTF-8"'},
    )


def _cross_site(request: web.Request) -> str | None:
    """Why this request comes from another site, or None."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site is {fetch_site}"
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return None  # not a browser's cross-origin request (curl, Prometheus, scripts)
    own = f"{request.scheme}://{request.host}"
    if origin.lower().rstrip("/") != own.lower():
        return f"Origin {origin[:100]} is not {own}"
    return None


GUARD = web.AppKey("guard", WebGuard)
USER = web.RequestKey("user", str)  # who: the basic auth user, cert:CN, or anonymous@addr
AUTHENTICATED = web.RequestKey("authenticated", bool)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[GUARD]
    protocol = request.protocol
    settings.busy.add(protocol)
    try:
        async with asyncio.timeout(settings.request_timeout):
            return await _guarded(request, handler, settings)
    except TimeoutError:
        raise web.HTTPServiceUnavailable(text="request took too long\n") from None
    finally:
        settings.busy.discard(protocol)


async def _guarded(
    request: web.Request, handler: Handler, settings: WebGuard
) -> web.StreamResponse:
    required = settings.loaded.config.authenticates
    user = await settings.identify(request)
    authenticated = user is not None
    request[USER] = user or f"anonymous@{request.remote}"
    request[AUTHENTICATED] = authenticated
    if required and not authenticated:
        if request.path in OPEN_PATHS:
            return await handler(request)
        if request.path in PROBE_PATHS and request.method in SAFE_METHODS:
            answer = await handler(request)
            ready = 200 <= answer.status < 300
            return web.json_response({"ready": ready}, status=answer.status)
        raise _unauthorized("this server requires credentials (web config file)")
    if request.method not in SAFE_METHODS:
        if not authenticated and not settings.allow_unauthenticated_writes:
            log.warning(
                "refused an unauthenticated write",
                extra={"remote": request.remote, "path": request.path, "method": request.method},
            )
            raise web.HTTPForbidden(
                text="changes need an authenticated request: configure basic_auth_users or "
                "client certificates in server.web_config_file (--web-config-file), or set "
                "server.allow_unauthenticated_writes: true to let anyone who reaches this "
                "port change silences\n"
            )
        why = _cross_site(request)
        if why is not None:
            log.warning(
                "refused a cross-site write: %s",
                why,
                extra={"remote": request.remote, "path": request.path},
            )
            raise web.HTTPForbidden(text=f"cross-site request refused: {why}\n")
        if request.method in ("POST", "PUT", "PATCH") and request.content_type != (
            "application/json"
        ):
            raise web.HTTPUnsupportedMediaType(
                text=f"send JSON (Content-Type: application/json), not "
                f"{request.content_type[:100]}\n"
            )
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
