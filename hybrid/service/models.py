"""Request and response models of the memory service, with their size limits.

Every limit is a module constant so clients and tests can read it; the HTTP layer adds one more
(the request body size, :attr:`hybrid.service.api.ServiceConfig.max_body_bytes`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InvalidInputError
from ..memory import MAX_HOPS as LIBRARY_MAX_HOPS
from ..memory import check_min_score
from ..store import validate_metadata, validate_where
from ..times import parse_time

#: Characters in one memory's text (the store itself allows more; the service keeps requests small).
MAX_TEXT_CHARS = 16_000
#: Characters in one search query.
MAX_QUERY_CHARS = 4_000
#: Memories in one add request.
MAX_BATCH = 256
#: Ids in one delete request.
MAX_DELETE_IDS = 1_000
#: Results of one search.
MAX_K = 100
#: Association hops of one search: the library's limit, the same on every interface.
MAX_HOPS = LIBRARY_MAX_HOPS
#: Bytes of one memory's metadata, serialised as JSON.
MAX_METADATA_BYTES = 8_192
#: Page size of a list request.
MAX_LIST_LIMIT = 1_000
#: Largest memory id accepted (SQLite integer range).
MAX_ID = 2**63 - 1

_STRICT = ConfigDict(extra="forbid", strict=True)


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    meta = validate_metadata(value)
    size = len(json.dumps(meta, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
    return meta


#: A time as JSON: epoch seconds or an ISO 8601 string (see :mod:`hybrid.times`).
TimeValue = int | float | str | None


def _check_time(value: TimeValue, name: str, relative: bool) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(value, name=name, relative=relative)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from None


def _check_text(value: str, name: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} is blank; give some non-whitespace text")
    return value


class MemoryIn(BaseModel):
    """One memory to store."""

    model_config = _STRICT
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The memory's text.")
    metadata: dict[str, Any] | None = Field(None, description="JSON object of scalar/nested values.")
    created_at: TimeValue = Field(None, description="When it happened: epoch seconds or ISO 8601 (default: now).")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        return _check_text(v, "text")

    @field_validator("metadata")
    @classmethod
    def _meta(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_metadata(v)

    @field_validator("created_at")
    @classmethod
    def _created(cls, v: TimeValue) -> float | None:
        return _check_time(v, "created_at", relative=False)


class AddRequest(BaseModel):
    """``POST /v1/ns/{namespace}/memories``: store up to :data:`MAX_BATCH` memories in one transaction
    (exact duplicates in the namespace return the existing id unless ``keep_duplicates``)."""

    model_config = _STRICT
    memories: list[MemoryIn] = Field(min_length=1, max_length=MAX_BATCH)
    keep_duplicates: bool = Field(False, description="Store a text again even when the namespace already holds the "
                                  "same text (default: the existing memory's id is returned in its place).")


class AddResponse(BaseModel):
    namespace: str
    ids: list[int]


class UpdateRequest(BaseModel):
    """``PATCH /v1/ns/{namespace}/memories/{id}``: new text (re-encoded) and/or new metadata."""

    model_config = _STRICT
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT_CHARS)
    metadata: dict[str, Any] | None = None

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return None if v is None else _check_text(v, "text")

    @field_validator("metadata")
    @classmethod
    def _meta(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_metadata(v)


class DeleteRequest(BaseModel):
    """``POST /v1/ns/{namespace}/memories/delete``: delete several ids of this namespace."""

    model_config = _STRICT
    ids: list[int] = Field(min_length=1, max_length=MAX_DELETE_IDS)

    @field_validator("ids")
    @classmethod
    def _ids(cls, v: list[int]) -> list[int]:
        bad = [i for i in v if not 1 <= i <= MAX_ID]
        if bad:
            raise ValueError(f"ids must be positive memory ids; got {bad[:5]}")
        return v


class DeleteResponse(BaseModel):
    deleted: list[int]
    missing: list[int]


class SearchRequest(BaseModel):
    """``POST /v1/ns/{namespace}/search``: recall the ``k`` best memories, optionally through ``hops`` associations."""

    model_config = _STRICT
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=MAX_K)
    hops: int = Field(0, ge=0, le=MAX_HOPS, description="0: direct recall only; h > 0 needs the associative memory.")
    where: dict[str, Any] | None = Field(None, description="Metadata equality filter {key: scalar}.")
    since: TimeValue = Field(None, description="Only memories created at or after: epoch seconds, ISO 8601, or a "
                             "duration before now (\"7d\", \"12h\").")
    until: TimeValue = Field(None, description="Only memories created at or before (same forms as since).")
    min_score: float | None = Field(None, description="Drop results whose cosine to the query is below this "
                                    "(the returned score is fused; the floor is a cosine).")

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        return _check_text(v, "query")

    @model_validator(mode="after")
    def _window(self) -> SearchRequest:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since is after until; nothing can match")
        return self

    @field_validator("since", "until")
    @classmethod
    def _time(cls, v: TimeValue, info: Any) -> float | None:
        return _check_time(v, info.field_name, relative=True)

    @field_validator("min_score")
    @classmethod
    def _min_score(cls, v: float | None) -> float | None:
        try:
            return check_min_score(v)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("where")
    @classmethod
    def _where(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else validate_where(v)


class LinkRequest(BaseModel):
    """``POST /v1/ns/{namespace}/links``: associate memory ``a`` with memory ``b`` (both in the namespace)."""

    model_config = _STRICT
    a: int = Field(ge=1, le=MAX_ID, description="Source memory id.")
    b: int = Field(ge=1, le=MAX_ID, description="Target memory id (recall of a reaches b).")
    symmetric: bool = Field(False, description="Also link b -> a.")


class LinkResponse(BaseModel):
    a: int
    b: int
    symmetric: bool
    linked: bool
    new_links: int = Field(description="Associations added (0 when they already existed).")


class MemoryOut(BaseModel):
    id: int
    namespace: str
    text: str
    metadata: dict[str, Any]
    created_at: float
    updated_at: float


class ListResponse(BaseModel):
    namespace: str
    total: int
    limit: int
    offset: int
    memories: list[MemoryOut]


class SearchHit(BaseModel):
    id: int
    score: float
    text: str
    metadata: dict[str, Any]
    namespace: str
    hop: int
    path: list[int]
    via: str = Field("direct", description="How the recall reached it: direct, concept:<concept>, link:<id> or hop.")
    created_at: float | None = None


class SearchResponse(BaseModel):
    namespace: str
    query: str
    k: int
    hops: int
    results: list[SearchHit]


class NamespaceStats(BaseModel):
    namespace: str
    memories: int
    model: str
    dim: int
    multi_hop: bool


class NamespaceDeleteResponse(BaseModel):
    namespace: str
    deleted: int = Field(description="Memories deleted (with their keys and links).")
    ids: list[int]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: ``{"error": {"status", "type", "message", "details"}}``."""

    error: dict[str, Any]
