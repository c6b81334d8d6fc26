"""Request and response models of the memory service, with their size limits.

Every limit is a module constant so clients and tests can read it; the HTTP layer adds one more
(the request body size, :attr:`hybrid.service.api.ServiceConfig.max_body_bytes`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..memory import MAX_HOPS as LIBRARY_MAX_HOPS
from ..store import validate_metadata, validate_where

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


def _check_text(value: str, name: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} is blank; give some non-whitespace text")
    return value


class MemoryIn(BaseModel):
    """One memory to store."""

    model_config = _STRICT
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The memory's text.")
    metadata: dict[str, Any] | None = Field(None, description="JSON object of scalar/nested values.")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        return _check_text(v, "text")

    @field_validator("metadata")
    @classmethod
    def _meta(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_metadata(v)


class AddRequest(BaseModel):
    """``POST /v1/ns/{namespace}/memories``: store up to :data:`MAX_BATCH` memories in one transaction."""

    model_config = _STRICT
    memories: list[MemoryIn] = Field(min_length=1, max_length=MAX_BATCH)


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
    fusion: bool = Field(False, description="Rank with the fusion search (dense + BM25 + query cues + order and "
                         "entity spread, hybrid.fusion); combines with where, not with hops.")

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        return _check_text(v, "query")

    @model_validator(mode="after")
    def _fusion_alone(self) -> SearchRequest:
        if self.fusion and self.hops:
            raise ValueError("fusion cannot be combined with hops")
        return self

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


class SearchResponse(BaseModel):
    namespace: str
    query: str
    k: int
    hops: int
    fusion: bool = False
    results: list[SearchHit]


class NamespaceStats(BaseModel):
    namespace: str
    memories: int
    model: str
    dim: int
    multi_hop: bool


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: ``{"error": {"status", "type", "message", "details"}}``."""

    error: dict[str, Any]
