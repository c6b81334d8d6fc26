"""Namespace isolation under scoped API keys: a client scoped to one namespace tries, and fails, to
read, list, search, update, link or delete another namespace's memories."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

ALICE_KEY = "alice-key-0123456789"
BOB_KEY = "bob-key-0123456789"
ADMIN_KEY = "admin-key-0123456789"
#: Status codes that mean "refused": 403 for a namespace outside the key's scope, 404 for an id not in the namespace.
FORBIDDEN = 403
NOT_FOUND = 404
ALICE_TEXTS = ["Alice's bank PIN is 4321.", "Alice is allergic to peanuts.", "Alice's flight leaves at 7am."]
BOB_TEXTS = ["Bob plays the cello on Tuesdays.", "Bob's car is a green hatchback."]


@pytest.fixture
def scoped(store_path, hash_encoder):
    from fastapi.testclient import TestClient

    from hybrid import Memory
    from hybrid.service.api import KeyRing, create_app

    ring = KeyRing({ALICE_KEY: ["alice"], BOB_KEY: ["bob", "shared"], ADMIN_KEY: "*"})
    mem = Memory.open(store_path, encoder=hash_encoder, device="cpu")
    try:
        with TestClient(create_app(mem, keys=ring)) as client:
            alice = {"Authorization": f"Bearer {ALICE_KEY}"}
            bob = {"X-API-Key": BOB_KEY}
            a_ids = client.post("/v1/ns/alice/memories", headers=alice,
                                json={"memories": [{"text": t} for t in ALICE_TEXTS]}).json()["ids"]
            b_ids = client.post("/v1/ns/bob/memories", headers=bob,
                                json={"memories": [{"text": t} for t in BOB_TEXTS]}).json()["ids"]
            yield client, mem, alice, bob, a_ids, b_ids
    finally:
        mem.close()


def alice_intact(mem, a_ids):
    recs = mem.store.get_many(a_ids)
    return [r.text for r in recs] == ALICE_TEXTS and all(r.namespace == "alice" for r in recs)


def test_missing_or_wrong_key_is_401(scoped):
    client, mem, *_ = scoped
    for headers in ({}, {"Authorization": "Bearer wrong-key-000000"}, {"X-API-Key": ""},
                    {"Authorization": f"Basic {ALICE_KEY}"}):
        r = client.get("/v1/ns/alice/memories", headers=headers)
        assert r.status_code == 401, f"headers {headers} gave {r.status_code}, want 401"
        assert "API key" in r.json()["error"]["message"]
    assert client.get("/healthz").status_code == 200, "health stays open"


def test_other_namespace_path_is_forbidden(scoped):
    client, mem, alice, bob, a_ids, b_ids = scoped
    attempts = [
        ("GET", f"/v1/ns/alice/memories/{a_ids[0]}", None),
        ("GET", "/v1/ns/alice/memories", None),
        ("GET", "/v1/ns/alice/stats", None),
        ("PATCH", f"/v1/ns/alice/memories/{a_ids[0]}", {"text": "hijacked"}),
        ("DELETE", f"/v1/ns/alice/memories/{a_ids[0]}", None),
        ("POST", "/v1/ns/alice/memories/delete", {"ids": a_ids}),
        ("POST", "/v1/ns/alice/search", {"query": ALICE_TEXTS[0], "k": 5}),
        ("POST", "/v1/ns/alice/links", {"a": a_ids[0], "b": a_ids[1]}),
        ("POST", "/v1/ns/alice/memories", {"memories": [{"text": "planted by bob"}]}),
    ]
    for method, url, body in attempts:
        r = client.request(method, url, headers=bob, json=body)
        assert r.status_code == FORBIDDEN, f"bob {method} {url} gave {r.status_code}, want {FORBIDDEN}"
        assert "alice" in r.json()["error"]["message"]
    assert alice_intact(mem, a_ids) and mem.count(namespace="alice") == len(ALICE_TEXTS)


def test_other_namespace_ids_through_own_namespace_are_not_found(scoped):
    client, mem, alice, bob, a_ids, b_ids = scoped
    for aid in a_ids:
        r = client.get(f"/v1/ns/bob/memories/{aid}", headers=bob)
        assert r.status_code == NOT_FOUND, f"bob read alice's {aid} via his namespace: {r.status_code}"
        assert ALICE_TEXTS[0] not in r.text
        assert client.patch(f"/v1/ns/bob/memories/{aid}", headers=bob, json={"text": "x"}).status_code == NOT_FOUND
        assert client.delete(f"/v1/ns/bob/memories/{aid}", headers=bob).status_code == NOT_FOUND
        assert client.post("/v1/ns/bob/links", headers=bob, json={"a": b_ids[0], "b": aid}).status_code == NOT_FOUND
    r = client.post("/v1/ns/bob/memories/delete", headers=bob, json={"ids": a_ids})
    assert r.status_code == 200 and r.json() == {"deleted": [], "missing": a_ids}
    # A memory unknown everywhere and one of alice's get the same answer (nothing leaks).
    unknown = client.get("/v1/ns/bob/memories/999999", headers=bob).json()["error"]["message"]
    known = client.get(f"/v1/ns/bob/memories/{a_ids[0]}", headers=bob).json()["error"]["message"]
    assert unknown.replace("999999", "N") == known.replace(str(a_ids[0]), "N")
    assert alice_intact(mem, a_ids)


def test_list_search_and_namespaces_show_only_own(scoped):
    client, mem, alice, bob, a_ids, b_ids = scoped
    page = client.get("/v1/ns/bob/memories", headers=bob, params={"limit": 1000}).json()
    assert sorted(x["id"] for x in page["memories"]) == sorted(b_ids) and page["total"] == len(BOB_TEXTS)
    for text in ALICE_TEXTS:  # bob searches with alice's exact words
        res = client.post("/v1/ns/bob/search", headers=bob, json={"query": text, "k": 100}).json()["results"]
        assert {h["id"] for h in res} <= set(b_ids), f"bob's search returned foreign ids for {text!r}"
    # A scoped namespace without memories yet: empty, not other people's memories.
    assert client.post("/v1/ns/shared/search", headers=bob, json={"query": ALICE_TEXTS[0]}).json()["results"] == []
    assert client.get("/v1/namespaces", headers=bob).json() == {"bob": len(BOB_TEXTS)}
    assert client.get("/v1/namespaces", headers=alice).json() == {"alice": len(ALICE_TEXTS)}
    assert client.get("/v1/stats", headers=bob).status_code == FORBIDDEN


def test_multi_hop_never_crosses_namespaces(scoped):
    """Even when a library user links a memory of bob's to one of alice's, bob's multi-hop recall stays in bob's."""
    from hybrid.service.api import supports_hops, supports_links

    client, mem, alice, bob, a_ids, b_ids = scoped
    if not (supports_hops(mem) and supports_links(mem)):
        r = client.post("/v1/ns/bob/search", headers=bob, json={"query": BOB_TEXTS[0], "hops": 2})
        assert r.status_code == 501
        pytest.skip("this Memory has no multi-hop search; checked the 501 instead")
    mem.link(b_ids[0], a_ids[0], symmetric=True)  # a cross-namespace association made outside the service
    assert client.post("/v1/ns/bob/links", headers=bob, json={"a": b_ids[0], "b": b_ids[1]}).status_code == 200
    for text in BOB_TEXTS + ALICE_TEXTS:
        for hops in (1, 2, 3):
            res = client.post("/v1/ns/bob/search", headers=bob, json={"query": text, "k": 10, "hops": hops}).json()
            got = {h["id"] for h in res["results"]} | {i for h in res["results"] for i in h["path"]}
            assert got <= set(b_ids), f"bob's {hops}-hop recall reached foreign memories: {got - set(b_ids)}"
    res = client.post("/v1/ns/alice/search", headers=alice, json={"query": ALICE_TEXTS[0], "k": 10, "hops": 2}).json()
    assert {h["id"] for h in res["results"]} <= set(a_ids)


def test_admin_key_sees_everything(scoped):
    client, mem, alice, bob, a_ids, b_ids = scoped
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert client.get("/v1/namespaces", headers=admin).json() == {"alice": 3, "bob": 2}
    assert client.get(f"/v1/ns/alice/memories/{a_ids[1]}", headers=admin).json()["text"] == ALICE_TEXTS[1]
    assert client.get("/v1/stats", headers=admin).json()["memories"] == len(ALICE_TEXTS) + len(BOB_TEXTS)


def test_keyring_rejects_bad_configuration(tmp_path):
    from hybrid.errors import InvalidInputError
    from hybrid.service.api import KeyRing

    for scopes in ({"short": "*"}, {"long-enough-key": []}, {"long-enough-key": ["../etc"]}, {"long-enough-key": 3}):
        with pytest.raises(InvalidInputError):
            KeyRing(scopes)
    bad = tmp_path / "keys.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="keys.json"):
        KeyRing.from_file(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"keys": {ALICE_KEY: ["alice"]}}))
    ring = KeyRing.build(keys_file=good, api_key=ADMIN_KEY)
    assert ring.scope_of(ALICE_KEY) == frozenset({"alice"}) and "*" in ring.scope_of(ADMIN_KEY)
    assert ring.scope_of("nope-nope-nope") is None


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-0123456789"}])
def test_key_is_checked_before_the_body_is_read(scoped, headers):
    """A request without a valid key is a 401 whatever its body: malformed JSON, a wrong shape or
    a body over the limit never reach the parser first."""
    client = scoped[0]
    for body in (b'{"memories": [', b'{"nope": 1}', b"x" * 100):
        r = client.post("/v1/ns/alice/memories", content=body, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 401, (body[:20], r.status_code, r.text[:200])
    r = client.patch("/v1/ns/alice/memories/1", content=b"{", headers={**headers, "content-type": "application/json"})
    assert r.status_code == 401
