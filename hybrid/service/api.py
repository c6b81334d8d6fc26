"""The HTTP API of the memory service (FastAPI).

Routes (all JSON; every error is ``{"error": {"status", "type", "message", "details"}}``)::

    GET    /healthz                               liveness and readiness (no key needed)
    GET    /v1/namespaces                         namespaces this key may use, with counts
    GET    /v1/stats                              whole-store statistics (admin key only)
    GET    /v1/ns/{ns}/stats                      one namespace's statistics
    POST   /v1/ns/{ns}/memories                   add memories           -> 201 {"ids": [...]}
    GET    /v1/ns/{ns}/memories?limit=&offset=    list memories in id order
    GET    /v1/ns/{ns}/memories/{id}              get one memory
    PATCH  /v1/ns/{ns}/memories/{id}              update text and/or metadata
    DELETE /v1/ns/{ns}/memories/{id}              delete one memory
    POST   /v1/ns/{ns}/memories/delete            delete several ids
    POST   /v1/ns/{ns}/search                     recall (hops=0 direct, hops>0 multi-hop)
    POST   /v1/ns/{ns}/links                      associate two memories (multi-hop memories only)
    DELETE /v1/ns/{ns}                            delete every memory of the namespace
    GET    /v1/ns/{ns}/export?vectors=            the namespace as an hhmem export (JSONL, hybrid.transfer)

Namespaces are part of the path and every memory belongs to exactly one. A memory id that exists
in another namespace is answered exactly like an id that does not exist (404), so a client cannot
even learn that it exists.

Access: with no keys configured every request is allowed; the CLI refuses to bind such a server to
anything but loopback. With keys (:class:`KeyRing`) a request must carry ``Authorization: Bearer
<key>`` or ``X-API-Key: <key>``; a key maps to a set of namespaces (``"*"``: all, the admin key),
and a request for a namespace outside the set is refused with 403.

Concurrency: handlers are synchronous and run in the server's thread pool; :class:`hybrid.Memory`
is thread-safe, and it picks up other processes' writes (CLI, MCP server, another API server) on
every search, so several processes may serve one store at once.
"""

# No ``from __future__ import annotations`` here: FastAPI resolves the route annotations at runtime,
# and some of them (``NS``) are local to :func:`create_app`.
import hmac
import inspect
import json
import logging
import os
import re
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..errors import HHMemError, InvalidInputError, NotFoundError, StoreError
from ..memory import Memory
from . import models as m
from .docs_page import docs_html

log = logging.getLogger("hhmem.service")

#: Environment variables read by the CLI (and by :meth:`KeyRing.from_env`).
API_KEY_ENV = "HHMEM_API_KEY"
KEYS_FILE_ENV = "HHMEM_KEYS_FILE"
ALL_NAMESPACES = "*"
NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

Namespace = Annotated[
    str,
    PathParam(pattern=NAMESPACE_PATTERN, description="1-64 characters [A-Za-z0-9_.:-], starting alphanumeric."),
]
MemoryId = Annotated[int, PathParam(ge=1, le=m.MAX_ID, description="A memory id.")]


@dataclass(frozen=True)
class ServiceConfig:
    """Limits of the HTTP layer.

    Attributes:
        max_body_bytes: largest request body accepted (413 above it).
        default_list_limit: page size of ``GET .../memories`` when none is given.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    default_list_limit: int = 100

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise InvalidInputError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if not 1 <= self.default_list_limit <= m.MAX_LIST_LIMIT:
            raise InvalidInputError(f"default_list_limit must be in 1..{m.MAX_LIST_LIMIT}, got {self.default_list_limit}")


class KeyRing:
    """API keys and the namespaces each may use.

    Args:
        scopes: key -> namespaces it may use (``{"*"}`` for all). Empty: no authentication.

    The keys file is JSON: ``{"keys": {"<key>": ["alice"], "<admin key>": "*"}}`` (a bare
    ``{"<key>": ...}`` mapping is accepted too).
    """

    def __init__(self, scopes: Mapping[str, Any] | None = None) -> None:
        self._scopes: list[tuple[bytes, frozenset[str]]] = []
        for key, namespaces in (scopes or {}).items():
            if not isinstance(key, str) or len(key) < 8:
                raise InvalidInputError(f"API keys must be strings of at least 8 characters; got {key!r:.12}")
            if namespaces == ALL_NAMESPACES:
                allowed = frozenset([ALL_NAMESPACES])
            elif isinstance(namespaces, (list, tuple)) and namespaces and all(isinstance(n, str) for n in namespaces):
                bad = [n for n in namespaces if n != ALL_NAMESPACES and not re.match(NAMESPACE_PATTERN, n)]
                if bad:
                    raise InvalidInputError(f"key scope has invalid namespace names: {bad}")
                allowed = frozenset(namespaces)
            else:
                raise InvalidInputError(
                    f'each key maps to "*" or a non-empty list of namespace names; got {namespaces!r}'
                )
            self._scopes.append((key.encode("utf-8"), allowed))

    @property
    def enabled(self) -> bool:
        return bool(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "KeyRing":
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"keys file {p} does not exist") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"keys file {p} is not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("keys"), dict):
            data = data["keys"]
        if not isinstance(data, dict):
            raise InvalidInputError(f'keys file {p} must hold {{"keys": {{"<key>": ["namespace", ...] | "*"}}}}')
        return cls(data)

    @classmethod
    def build(cls, *, api_key: str | None = None, keys_file: str | os.PathLike | None = None) -> "KeyRing":
        """Keys from a keys file plus one optional admin key (all namespaces)."""
        scopes: dict[str, Any] = {}
        if keys_file:
            ring = cls.from_file(keys_file)
            scopes.update({k.decode(): (ALL_NAMESPACES if ALL_NAMESPACES in ns else sorted(ns)) for k, ns in ring._scopes})
        if api_key:
            scopes[api_key] = ALL_NAMESPACES
        return cls(scopes)

    def scope_of(self, key: str | None) -> frozenset[str] | None:
        """The namespaces of ``key`` (``None`` when the key is unknown). Constant time per stored key."""
        if key is None:
            return None
        given = key.encode("utf-8")
        found = None
        for stored, allowed in self._scopes:
            if hmac.compare_digest(stored, given):
                found = allowed
        return found


class Access:
    """What the caller of one request may touch."""

    def __init__(self, namespaces: frozenset[str] | None) -> None:
        self.namespaces = namespaces  # None: no authentication configured, everything allowed

    @property
    def is_admin(self) -> bool:
        return self.namespaces is None or ALL_NAMESPACES in self.namespaces

    def allows(self, namespace: str) -> bool:
        return self.is_admin or namespace in (self.namespaces or ())


#: Answers documented on every route of the OpenAPI document (body: :class:`~hybrid.service.models.ErrorBody`).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": m.ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed JSON, or a request the store cannot serve"),
        (401, "Missing or unknown API key (checked before the body is read)"),
        (403, "The API key may not use this namespace"),
        (404, "No such memory in this namespace, or no such route"),
        (413, "Request body over the size limit"),
        (422, "Invalid request: a field breaks its validation rule (text length, k, hops, metadata keys, "
              "lone surrogates, integers beyond 64 bits, nesting deeper than 32 ...)"),
        (503, "The store cannot be read or written"),
    )
}


class ServiceError(HTTPException):
    """An HTTP error with a machine-readable ``type``."""

    def __init__(self, status: int, type_: str, message: str, details: Any = None) -> None:
        super().__init__(status_code=status, detail=message)
        self.type = type_
        self.details = details


class BodyTooLarge(ServiceError):
    def __init__(self, limit: int, size: int | None = None) -> None:
        got = f"{size} bytes" if size is not None else "more"
        super().__init__(413, "body_too_large", f"request body is {got}; the limit is {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies above ``limit`` bytes (by ``Content-Length`` and while streaming)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                size = int(value) if value.isdigit() else None
                if size is None or size > self.limit:
                    await _send_error(send, BodyTooLarge(self.limit, size) if size is not None else
                                      ServiceError(400, "bad_request", "Content-Length header is not a number"))
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def authenticate(ring: KeyRing, headers: Mapping[str, str]) -> Access:
    """The access of a request's API key (``X-API-Key`` or ``Authorization: Bearer``); 401 without a valid one."""
    if not ring.enabled:
        return Access(None)
    key = headers.get("x-api-key")
    auth = headers.get("authorization")
    if key is None and auth:
        scheme, _, token = auth.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise ServiceError(401, "unauthorized", "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    scope = ring.scope_of(key)
    if scope is None:
        raise ServiceError(401, "unauthorized", "the API key is not valid")
    return Access(scope)


class KeyCheckMiddleware:
    """Check the API key of every ``/v1/`` request before anything reads its body (so a caller
    without a valid key learns nothing about the request's validity and costs no parsing)."""

    def __init__(self, app: ASGIApp, ring: KeyRing) -> None:
        self.app = app
        self.ring = ring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.ring.enabled and scope.get("path", "").startswith("/v1/"):
            from starlette.datastructures import Headers

            try:
                authenticate(self.ring, Headers(scope=scope))
            except ServiceError as exc:
                await _send_error(send, exc)
                return
        await self.app(scope, receive, send)


async def _send_error(send: Send, exc: ServiceError) -> None:
    body = json.dumps(_error_body(exc.status_code, exc.type, str(exc.detail), exc.details)).encode()
    await send({"type": "http.response.start", "status": exc.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _error_body(status: int, type_: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"status": status, "type": type_, "message": message, "details": details}}


def _error(status: int, type_: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse(_error_body(status, type_, message, details), status_code=status)


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        msg = e.get("msg", "invalid")
        if e.get("type") == "json_invalid":
            msg = f"malformed JSON: {e.get('ctx', {}).get('error', 'decode error')}"
        details.append({"field": loc, "message": msg, "type": e.get("type")})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return summary or "invalid request", details


def supports_hops(memory: Memory) -> bool:
    """Whether ``memory.search`` takes ``hops`` (the associative memory)."""
    try:
        return "hops" in inspect.signature(memory.search).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def supports_links(memory: Memory) -> bool:
    return callable(getattr(memory, "link", None))


def open_memory(path: str | os.PathLike, *, encoder: Any = "default", create: bool = True, backend: str = "exact") -> Memory:
    """Open a store for serving (multi-hop support is detected from the Memory, see :func:`supports_hops`);
    ``backend`` is the retriever's stage 1 (``"exact"`` or an approximate index kept in the store folder)."""
    return Memory.open(path, encoder=encoder, create=create, backend=backend)


def _record_out(rec: Any) -> m.MemoryOut:
    return m.MemoryOut(id=rec.id, namespace=rec.namespace, text=rec.text, metadata=rec.metadata,
                       created_at=rec.created_at, updated_at=rec.updated_at)


def create_app(
    memory_or_path: Memory | str | os.PathLike,
    *,
    encoder: Any = "default",
    keys: KeyRing | None = None,
    config: ServiceConfig | None = None,
    backend: str = "exact",
    warm_up: bool = True,
) -> FastAPI:
    """Build the FastAPI app over a :class:`~hybrid.Memory` or a store path.

    Args:
        memory_or_path: an open memory (the caller closes it) or a store folder (opened now,
            created when missing, closed at shutdown).
        encoder: encoder used when opening a path (``"hash"`` for tests).
        keys: API keys and scopes; ``None`` or empty: no authentication (serve on loopback only).
        config: HTTP limits.
        backend: stage 1 of recall when opening a path (see :class:`~hybrid.Memory`).
        warm_up: run :meth:`~hybrid.Memory.warm_up` at start-up, before the first request is
            accepted (``/healthz`` then reports ``"ready": true`` and the seconds it took).

    Example:
        >>> from fastapi.testclient import TestClient                    # doctest: +SKIP
        >>> client = TestClient(create_app("store", encoder="hash"))     # doctest: +SKIP
        >>> client.post("/v1/ns/demo/memories", json={"memories": [{"text": "hello"}]}).json()  # doctest: +SKIP
        {'namespace': 'demo', 'ids': [1]}
    """
    cfg = config or ServiceConfig()
    ring = keys or KeyRing()
    owns = not isinstance(memory_or_path, Memory)
    mem: Memory = (open_memory(memory_or_path, encoder=encoder, backend=backend) if owns  # type: ignore[arg-type]
                   else memory_or_path)
    multi_hop = supports_hops(mem)
    linkable = supports_links(mem)

    readiness: dict[str, Any] = {"ready": not warm_up, "warm_up_s": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:  # before the first request is accepted: the encoder and the kernels are loaded
            readiness["warm_up_s"] = mem.warm_up()
            readiness["ready"] = True
        try:
            yield
        finally:
            if owns:
                mem.close()

    app = FastAPI(
        title="hhmem memory service",
        version=__version__,
        description="Durable text memory for LLM agents: add, recall (single- and multi-hop), link, namespaces.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: blank offline
        redoc_url=None,
    )
    app.state.memory = mem
    app.state.keys = ring
    app.state.config = cfg
    app.add_middleware(BodyLimitMiddleware, limit=cfg.max_body_bytes)
    app.add_middleware(KeyCheckMiddleware, ring=ring)  # outermost: the key is checked first

    # ----------------------------------------------------------------- errors
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status_code, exc.type, str(exc.detail), exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return _error(exc.status_code, kind, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        summary, details = _describe_validation(errors)
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed_json", summary, details)
        return _error(422, "invalid_request", summary, details)

    store_paths = sorted({str(mem.store.path), str(Path(mem.store.path).resolve())}, key=len, reverse=True)

    def public(exc: Exception) -> str:
        """An error message without the store's filesystem location (clients never need it)."""
        message = str(exc)
        for path in store_paths:
            message = message.replace(path, "<store>")
        return message

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return _error(422, "invalid_input", public(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, "not_found", public(exc))

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error: %s", exc)
        return _error(503, "store_unavailable", public(exc))

    @app.exception_handler(HHMemError)
    async def _hhmem_error(request: Request, exc: HHMemError) -> JSONResponse:
        return _error(400, "bad_request", public(exc))

    # ----------------------------------------------------------------- access
    def access(request: Request) -> Access:
        return authenticate(ring, request.headers)

    def scoped(namespace: Namespace, who: Access = Depends(access)) -> str:
        if not who.allows(namespace):
            raise ServiceError(403, "forbidden", f"this API key may not use namespace {namespace!r}")
        return namespace

    NS = Annotated[str, Depends(scoped)]

    def owned(namespace: str, memory_id: int) -> Any:
        """The record of ``memory_id`` when it is in ``namespace``; 404 otherwise (also when it is elsewhere)."""
        try:
            rec = mem.get(memory_id)
        except NotFoundError:
            rec = None
        if rec is None or rec.namespace != namespace:
            raise ServiceError(404, "not_found", f"memory {memory_id} not found in namespace {namespace!r}")
        return rec

    # ----------------------------------------------------------------- routes
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "multi_hop": multi_hop, "links": linkable, **readiness}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_html(app.title, app.openapi_url or "/openapi.json"))

    @app.get("/v1/namespaces", tags=["service"])
    def namespaces(who: Access = Depends(access)) -> dict[str, int]:
        counts = mem.store.namespaces()
        return {ns: n for ns, n in counts.items() if who.allows(ns)}

    @app.get("/v1/stats", tags=["service"])
    def stats(who: Access = Depends(access)) -> dict[str, Any]:
        if not who.is_admin:
            raise ServiceError(403, "forbidden", "whole-store statistics need an admin key; use /v1/ns/{namespace}/stats")
        return {**mem.stats(), "multi_hop": multi_hop, "links": linkable}

    @app.get("/v1/ns/{namespace}/stats", response_model=m.NamespaceStats, tags=["memories"])
    def namespace_stats(namespace: NS) -> m.NamespaceStats:
        return m.NamespaceStats(namespace=namespace, memories=mem.count(namespace=namespace),
                                model=mem.store.model, dim=mem.store.dim, multi_hop=multi_hop)

    @app.post("/v1/ns/{namespace}/memories", status_code=201, response_model=m.AddResponse, tags=["memories"])
    def add(namespace: NS, body: m.AddRequest) -> m.AddResponse:
        ids = mem.add([x.text for x in body.memories], metadata=[x.metadata for x in body.memories],
                      namespace=namespace, created_at=[x.created_at for x in body.memories],
                      dedupe=not body.keep_duplicates)
        return m.AddResponse(namespace=namespace, ids=ids)

    @app.get("/v1/ns/{namespace}/memories", response_model=m.ListResponse, tags=["memories"])
    def list_memories(
        namespace: NS,
        limit: Annotated[int | None, Query(ge=0, le=m.MAX_LIST_LIMIT)] = None,
        offset: Annotated[int, Query(ge=0, le=m.MAX_ID)] = 0,
    ) -> m.ListResponse:
        lim = cfg.default_list_limit if limit is None else limit
        recs = mem.list(namespace=namespace, limit=lim, offset=offset)
        return m.ListResponse(namespace=namespace, total=mem.count(namespace=namespace), limit=lim, offset=offset,
                              memories=[_record_out(r) for r in recs])

    @app.get("/v1/ns/{namespace}/memories/{memory_id}", response_model=m.MemoryOut, tags=["memories"])
    def get(namespace: NS, memory_id: MemoryId) -> m.MemoryOut:
        return _record_out(owned(namespace, memory_id))

    @app.patch("/v1/ns/{namespace}/memories/{memory_id}", response_model=m.MemoryOut, tags=["memories"])
    def update(namespace: NS, memory_id: MemoryId, body: m.UpdateRequest) -> m.MemoryOut:
        if body.text is None and body.metadata is None:
            raise ServiceError(422, "invalid_request", "update needs 'text' and/or 'metadata'")
        owned(namespace, memory_id)  # a memory never changes namespace, so this check cannot go stale
        try:
            mem.update(memory_id, text=body.text, metadata=body.metadata)
        except NotFoundError:  # deleted since the check above (a racing DELETE)
            raise ServiceError(404, "not_found", f"memory {memory_id} not found in namespace {namespace!r}") from None
        return _record_out(owned(namespace, memory_id))

    @app.delete("/v1/ns/{namespace}/memories/{memory_id}", response_model=m.DeleteResponse, tags=["memories"])
    def delete_one(namespace: NS, memory_id: MemoryId) -> m.DeleteResponse:
        deleted = mem.delete([memory_id], namespace=namespace)
        if not deleted:
            raise ServiceError(404, "not_found", f"memory {memory_id} not found in namespace {namespace!r}")
        return m.DeleteResponse(deleted=deleted, missing=[])

    @app.post("/v1/ns/{namespace}/memories/delete", response_model=m.DeleteResponse, tags=["memories"])
    def delete_many(namespace: NS, body: m.DeleteRequest) -> m.DeleteResponse:
        wanted = list(dict.fromkeys(body.ids))
        deleted = mem.delete(wanted, namespace=namespace)
        done = set(deleted)
        return m.DeleteResponse(deleted=deleted, missing=[i for i in wanted if i not in done])

    @app.post("/v1/ns/{namespace}/search", response_model=m.SearchResponse, tags=["search"])
    def search(namespace: NS, body: m.SearchRequest) -> m.SearchResponse:
        if body.hops > 0 and not multi_hop:
            raise ServiceError(501, "not_implemented",
                               "multi-hop search (hops > 0) needs the associative memory, which this server does not have")
        kwargs: dict[str, Any] = {"namespace": namespace, "where": body.where, "since": body.since,
                                  "until": body.until, "min_score": body.min_score}
        if multi_hop:
            kwargs["hops"] = body.hops
        try:
            results = mem.search(body.query, body.k, **kwargs)
        except NotFoundError:
            # The namespace holds no memories yet: an empty recall, not an error.
            results = []
        hits = [m.SearchHit(**r.to_dict()) for r in results if r.namespace == namespace]
        return m.SearchResponse(namespace=namespace, query=body.query, k=body.k, hops=body.hops, results=hits)

    @app.delete("/v1/ns/{namespace}", response_model=m.NamespaceDeleteResponse, tags=["memories"])
    def delete_namespace(namespace: NS) -> m.NamespaceDeleteResponse:
        ids = mem.delete_namespace(namespace)
        return m.NamespaceDeleteResponse(namespace=namespace, deleted=len(ids), ids=ids)

    @app.get("/v1/ns/{namespace}/export", tags=["memories"], response_class=StreamingResponse,
             responses={200: {"content": {"application/x-ndjson": {}},
                              "description": "One JSON object per line: a header, the memories, the links."}})
    def export_namespace(namespace: NS, vectors: Annotated[bool, Query()] = False) -> StreamingResponse:
        from ..transfer import export_records

        lines = (json.dumps(obj, ensure_ascii=False) + "\n"
                 for obj in export_records(mem, namespace=namespace, vectors=vectors))
        return StreamingResponse(lines, media_type="application/x-ndjson",
                                 headers={"Content-Disposition": f'attachment; filename="{namespace}.jsonl"'})

    @app.post("/v1/ns/{namespace}/links", response_model=m.LinkResponse, tags=["search"])
    def link(namespace: NS, body: m.LinkRequest) -> m.LinkResponse:
        if body.a == body.b:
            raise ServiceError(422, "invalid_request", f"a memory cannot be linked to itself (a = b = {body.a})")
        owned(namespace, body.a)
        owned(namespace, body.b)
        if not linkable:
            raise ServiceError(501, "not_implemented",
                               "links need the associative memory (Memory.link), which this server does not have")
        added = mem.link(body.a, body.b, symmetric=body.symmetric)  # type: ignore[attr-defined]
        return m.LinkResponse(a=body.a, b=body.b, symmetric=body.symmetric, linked=True, new_links=int(added or 0))

    return app
