"""One store, three kinds of processes at once: the HTTP server, the CLI and a library user; in a
folder and in PostgreSQL.

Writes made by any of them are visible to the others' searches and reads without a restart.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow

NS = "mp"
#: Rank the written memory must reach when searched with its own text (hash encoder: exact match).
TOP = 0
#: Concurrent CLI writers and HTTP writes in the mixed phase.
CLI_WRITERS = 3
HTTP_WRITES = 20

#: Encoder of these tests: the hash stand-in, wide enough that distinct texts never share a key.
MODEL = "hash-512"
SEED = 7
_WORDS = ("amber basil cedar delta ember fjord garnet harbor iris juniper kelp lagoon maple nectar onyx pepper "
          "quartz raven saffron tundra umber violet willow xenon yarrow zephyr").split()


def unique_text(rng, prefix: str) -> str:
    return f"{prefix} " + " ".join(rng.choice(_WORDS, size=6)) + f" {rng.integers(1 << 30)}"


TEXT_A = "Alpha: the greenhouse thermostat is set to 21 degrees."
TEXT_B = "Bravo: the spare key hangs behind the kitchen door."
TEXT_C = "Charlie: the wifi password changed to sunflower-42."
TEXT_D = "Delta: grandma's birthday is on the 9th of June."
TEXT_C2 = "Charlie: the wifi password is now maple-17."


def server_top(client, text, k=3):
    r = client.post(f"/v1/ns/{NS}/search", json={"query": text, "k": k})
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["results"]]


def test_writes_from_each_process_are_seen_by_the_others(store_location, servers, cli):
    from hybrid import Memory

    store = store_location  # a folder, then a PostgreSQL database (`hhmem serve --store postgresql://...`)
    id_a = json.loads(cli("add", "--namespace", NS, "--json", "-q", TEXT_A, store=store, model=MODEL).stdout)["ids"][0]
    server = servers(store, model=MODEL)
    with server.client() as http, Memory.open(store, encoder=MODEL, create=False, device="cpu") as lib:
        assert server_top(http, TEXT_A)[TOP] == id_a, "server must load memories written before it started"

        # CLI write -> server search, no restart.
        id_b = json.loads(cli("add", "--namespace", NS, "--json", "-q", TEXT_B, store=store, model=MODEL).stdout)["ids"][0]
        assert server_top(http, TEXT_B)[TOP] == id_b, "server search must see the CLI's write"

        # HTTP write -> CLI search and library search.
        id_c = http.post(f"/v1/ns/{NS}/memories", json={"memories": [{"text": TEXT_C}]}).json()["ids"][0]
        hits = json.loads(cli("search", "--namespace", NS, "--json", "-k", "3", TEXT_C, store=store, model=MODEL).stdout)
        assert hits[TOP]["id"] == id_c, "CLI search must see the server's write"
        assert lib.search(TEXT_C, 3, namespace=NS)[TOP].id == id_c, "library search must see the server's write"

        # Library write -> server search and get.
        id_d = lib.add([TEXT_D], namespace=NS)[0]
        assert server_top(http, TEXT_D)[TOP] == id_d, "server search must see the library's write"
        assert http.get(f"/v1/ns/{NS}/memories/{id_d}").json()["text"] == TEXT_D

        # HTTP update -> library search uses the new text.
        http.patch(f"/v1/ns/{NS}/memories/{id_c}", json={"text": TEXT_C2})
        assert lib.search(TEXT_C2, 1, namespace=NS)[0].id == id_c and lib.get(id_c).text == TEXT_C2

        # HTTP delete -> gone for the library and the CLI.
        assert http.delete(f"/v1/ns/{NS}/memories/{id_a}").status_code == 200
        assert id_a not in [r.id for r in lib.search(TEXT_A, 5, namespace=NS)], "library still finds a deleted memory"
        gone = cli("get", str(id_a), store=store, model=MODEL, check=False)
        assert gone.returncode != 0 and "not found" in gone.stderr, f"CLI still reads a deleted memory: {gone.stderr}"

        # CLI delete -> gone for the server.
        cli("delete", str(id_b), store=store, model=MODEL)
        assert id_b not in server_top(http, TEXT_B, k=5), "server still finds a memory the CLI deleted"
        assert http.get(f"/v1/ns/{NS}/memories/{id_b}").status_code == 404


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path, store_location, servers, cli_popen):
    """CLI writers, HTTP writes and a library writer at the same time; every acknowledged write is then
    readable and findable through the server."""
    import numpy as np

    from hybrid import Memory

    rng = np.random.default_rng(SEED)
    store = store_location
    with Memory.open(store, encoder=MODEL, device="cpu") as lib:
        lib.add(["seed memory so the store exists"], namespace=NS)
        server = servers(store, model=MODEL)
        expected: dict[int, str] = {}
        files = []
        for w in range(CLI_WRITERS):
            f = tmp_path / f"writer{w}.txt"
            f.write_text("\n".join(unique_text(rng, f"cli writer {w}") for i in range(10)) + "\n")
            files.append(f)
        procs = [cli_popen("add", "--namespace", NS, "--json", "-q", "--file", str(f), store=store, model=MODEL) for f in files]
        with server.client() as http:
            for i in range(HTTP_WRITES):
                text = unique_text(rng, "http write")
                r = http.post(f"/v1/ns/{NS}/memories", json={"memories": [{"text": text}]})
                assert r.status_code == 201, r.text
                expected[r.json()["ids"][0]] = text
                if i % 5 == 0:
                    text = unique_text(rng, "library write")
                    expected[lib.add([text], namespace=NS)[0]] = text
            for w, (p, f) in enumerate(zip(procs, files)):
                out, err = p.communicate(timeout=120)
                assert p.returncode == 0, f"CLI writer {w} failed: {err[-1000:]}"
                ids = json.loads(out)["ids"]
                for mid, text in zip(ids, f.read_text().splitlines()):
                    expected[mid] = text
            assert len(expected) == HTTP_WRITES + HTTP_WRITES // 5 + 10 * CLI_WRITERS, "ids must be unique"
            for mid, text in expected.items():
                r = http.get(f"/v1/ns/{NS}/memories/{mid}")
                assert r.status_code == 200 and r.json()["text"] == text, f"acknowledged write {mid} lost or altered"
                top = http.post(f"/v1/ns/{NS}/search", json={"query": text, "k": 1}).json()["results"]
                assert top and top[0]["id"] == mid, f"server index missed write {mid} ({text!r})"
            assert http.get(f"/v1/ns/{NS}/stats").json()["memories"] == len(expected) + 1
