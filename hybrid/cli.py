"""The ``hhmem`` command line.

Sub-commands of other parts of the toolkit (benchmarks, evaluation, spiking, Lava, service) are
registered lazily in :data:`LAZY_COMMANDS` so that ``hhmem add`` never imports Lava or FastAPI.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from . import data
from ._logging import quiet_library_loggers
from ._version import __version__
from .errors import HHMemError
from .memory import MAX_HOPS, STORE_ENV, Memory, SearchResult, default_store_path

#: name -> "module:attribute" of click commands defined elsewhere.
LAZY_COMMANDS: dict[str, str] = {
    "serve": "hybrid.service.cli:serve",
    "mcp": "hybrid.service.cli:mcp",
    "serve-loadtest": "hybrid.service.cli:serve_loadtest",
    "loihi": "deploy_loihi.cli:loihi",
    "eval": "hybrid.eval.cli:eval_group",
    "bench": "hybrid.bench.cli:bench",
    "snn": "snn.cli:snn",
}

#: Memories encoded and committed per transaction during ingest.
INGEST_CHUNK = 256


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


def fail(message: str) -> None:
    raise click.ClickException(message)


def open_memory(ctx: click.Context, *, create: bool = True) -> Memory:
    obj = ctx.find_root().obj
    try:
        mem = Memory.open(obj["store"], encoder=obj["model"], create=create, backend=obj.get("backend", "exact"))
    except HHMemError as exc:
        fail(str(exc))
    ctx.call_on_close(mem.close)
    return mem


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are read as JSON when they parse (``3``, ``true``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"{option} expects key=value, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = value
    return out


def read_items(texts: Sequence[str], file: str | None, jsonl: bool) -> Iterator[tuple[str, dict | None]]:
    """Memories to add from arguments, a file (one per line, or JSONL) or standard input."""
    yield from ((t, None) for t in texts)
    if file is None:
        if texts:
            return
        if sys.stdin.isatty():
            fail("nothing to add: give texts, --file PATH, or pipe lines on standard input")
        file = "-"
    is_jsonl = jsonl or (file != "-" and file.endswith(".jsonl"))
    name = "<stdin>" if file == "-" else file
    try:
        fh = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        fail(f"{name}: {exc.strerror or exc}")
    try:
        for lineno, line in _lines(fh, name):
            if not line.strip():
                continue
            if not is_jsonl:
                yield line.rstrip("\n"), None
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"{name}:{lineno}: not valid JSON ({exc.msg})")
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                fail(f"{name}:{lineno}: each JSONL line needs a \"text\" string")
            meta = obj.get("metadata")
            if meta is not None and not isinstance(meta, dict):
                fail(f"{name}:{lineno}: \"metadata\" must be an object")
            yield obj["text"], meta
    finally:
        if fh is not sys.stdin:
            fh.close()


def _lines(fh, name: str) -> Iterator[tuple[int, str]]:
    try:
        yield from enumerate(fh, 1)
    except UnicodeDecodeError as exc:
        fail(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})")


def ingest(mem: Memory, items: list[tuple[str, dict | None]], *, namespace: str, common: dict, quiet: bool) -> list[int]:
    """Add items in committed chunks of :data:`INGEST_CHUNK` with a progress bar."""
    from tqdm import tqdm

    ids: list[int] = []
    with tqdm(total=len(items), unit="mem", desc="ingest", disable=quiet or len(items) < 2, file=sys.stderr) as bar:
        for start in range(0, len(items), INGEST_CHUNK):
            chunk = items[start : start + INGEST_CHUNK]
            metas = [{**common, **(m or {})} for _, m in chunk]
            ids += mem.add([t for t, _ in chunk], metadata=metas, namespace=namespace)
            bar.update(len(chunk))
    return ids


def print_results(results: list[SearchResult], *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo("(no results)")
        return
    width = shutil.get_terminal_size((120, 20)).columns
    text_w = max(30, width - 28)
    click.echo(f"{'rank':>4}  {'id':>6}  {'score':>6}  {'hop':>3}  text")
    for rank, r in enumerate(results, 1):
        text = r.text.replace("\n", " ")
        text = text if len(text) <= text_w else text[: text_w - 1] + "…"
        click.echo(f"{rank:>4}  {r.id:>6}  {r.score:6.3f}  {r.hop:>3}  {text}")


#: The options of the ``hhmem`` group, as ``(name, click.option keywords)``: accepted before the
#: sub-command and, through :func:`global_options`, after it (``hhmem add --store S ...``).
GLOBAL_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--store", dict(type=click.Path(file_okay=False), help=f"Store folder [env {STORE_ENV}; default ./hhmem-store].")),
    ("--model", dict(help="Encoder: 'default' (offline all-MiniLM-L6-v2), a sentence-transformers name/path, "
                          "or 'hash' (tests) [default: default].")),
    ("--backend", dict(type=click.Choice(["exact", "hnswlib", "hnsw", "ivf"]),
                       help="Stage 1 of recall: exact, or an approximate index for large stores (kept in the "
                            "store folder between runs) [env HHMEM_BACKEND; default: exact].")),
)
#: Defaults and environment variables of the group-level options.
_GLOBAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "--store": dict(default=None, envvar=STORE_ENV),
    "--model": dict(default="default"),
    "--backend": dict(default="exact", envvar="HHMEM_BACKEND"),
}


def _set_root_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        root = ctx.find_root()
        root.obj = {**(root.obj or {}), param.name: value}


def global_options(command: Any) -> Any:
    """Also accept the group's options (``--store``, ``--model``, ``--backend``) after a sub-command;
    given there, they override the ones given before it."""
    for name, kwargs in reversed(GLOBAL_OPTIONS):
        command = click.option(name, **kwargs, default=None, expose_value=False, callback=_set_root_option)(command)
    return command


def _group_options(fn: Any) -> Any:
    for name, kwargs in reversed(GLOBAL_OPTIONS):
        fn = click.option(name, **kwargs, **_GLOBAL_DEFAULTS[name])(fn)
    return fn


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hhmem")
@_group_options
@click.pass_context
def main(ctx: click.Context, store: str | None, model: str, backend: str) -> None:
    """hhmem: durable text memory with two-stage Hopfield recall and Hebbian multi-hop chains.

    --store, --model and --backend may be given before or after the sub-command."""
    quiet_library_loggers()
    ctx.obj = {"store": store or str(default_store_path()), "model": model, "backend": backend}


@main.command()
@global_options
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", type=str, default=None, help="Text file (one memory per line), .jsonl, or '-' for stdin.")
@click.option("--jsonl", is_flag=True, help="Read --file/stdin as JSONL objects with 'text' and optional 'metadata'.")
@click.option("--namespace", "-n", default="default", show_default=True)
@click.option("--meta", "-m", multiple=True, help="key=value metadata added to every memory (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the new ids as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def add(ctx, texts, file, jsonl, namespace, meta, as_json, quiet):
    """Store memories from arguments, a file or standard input."""
    items = list(read_items(texts, file, jsonl))
    if not items:
        fail("nothing to add: the input has no non-blank line")
    mem = open_memory(ctx)
    try:
        ids = ingest(mem, items, namespace=namespace, common=parse_pairs(meta, "--meta"), quiet=quiet or as_json)
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"ids": ids}))
    else:
        click.echo(f"added {len(ids)} memories (ids {ids[0]}..{ids[-1]}) to {mem.store.path}")


@main.command()
@global_options
@click.argument("query")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Number of results.")
@click.option("--namespace", "-n", default=None)
@click.option("--where", "-w", multiple=True, help="key=value metadata equality filter (repeatable).")
@click.option("--hops", default=0, show_default=True, type=click.IntRange(0, MAX_HOPS),
              help="Also rank memories reached through up to this many associations.")
@click.option("--fusion", is_flag=True,
              help="Fuse dense recall with BM25 and spread along sequences and shared terms (hybrid.fusion; "
                   "best on conversations, see docs/evaluation.md). Scores are then fused ranks, not cosines.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx, query, k, namespace, where, hops, fusion, as_json):
    """Recall the memories that best match QUERY."""
    if fusion and hops:
        fail("--fusion cannot be combined with --hops")
    mem = open_memory(ctx, create=False)
    try:
        if fusion:
            from .fusion import FusionSearcher

            results = FusionSearcher(mem).search(query, k, namespace=namespace, where=parse_pairs(where, "--where"))
        else:
            results = mem.search(query, k, namespace=namespace, where=parse_pairs(where, "--where"), hops=hops)
    except HHMemError as exc:
        fail(str(exc))
    print_results(results, as_json=as_json)


@main.command()
@global_options
@click.argument("a", type=click.IntRange(0))
@click.argument("b", type=click.IntRange(0))
@click.option("--both-ways", is_flag=True, help="Also associate B -> A.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def link(ctx, a, b, both_ways, as_json):
    """Associate memory A with memory B (A -> B), for multi-hop search and chains."""
    mem = open_memory(ctx, create=False)
    try:
        new = mem.link(a, b, symmetric=both_ways)
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"a": a, "b": b, "both_ways": both_ways, "new_links": new}))
    else:
        click.echo(f"linked {a} -> {b}" + (" and back" if both_ways else "") + ("" if new else " (already linked)"))


@main.command()
@global_options
@click.argument("memory_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def get(ctx, memory_id, as_json):
    """Show one memory."""
    mem = open_memory(ctx, create=False)
    try:
        rec = mem.get(memory_id)
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"id:        {rec.id}\nnamespace: {rec.namespace}\nmetadata:  {json.dumps(rec.metadata)}\ntext:      {rec.text}")


@main.command()
@global_options
@click.argument("memory_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def delete(ctx, memory_ids, as_json):
    """Delete memories by id."""
    mem = open_memory(ctx, create=False)
    deleted = mem.delete(memory_ids)
    missing = sorted(set(memory_ids) - set(deleted))
    if as_json:
        click.echo(json.dumps({"deleted": deleted, "missing": missing}))
    else:
        click.echo(f"deleted {len(deleted)}" + (f"; not found: {missing}" if missing else ""))
    if missing and not deleted:
        ctx.exit(1)


@main.command("list")
@global_options
@click.option("--namespace", "-n", default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, namespace, limit, offset, as_json):
    """List memories in id order."""
    mem = open_memory(ctx, create=False)
    try:
        recs = mem.list(namespace=namespace, limit=limit, offset=offset)
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in recs], indent=2, ensure_ascii=False))
    for r in [] if as_json else recs:
        click.echo(f"{r.id:>6}  {r.namespace:<12}  {r.text[:90]}")


@main.command()
@global_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats(ctx, as_json):
    """Counts, namespaces, encoder and index settings of the store."""
    mem = open_memory(ctx, create=False)
    st = mem.stats()
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    for key, value in st.items():
        click.echo(f"{key:<15} {json.dumps(value) if isinstance(value, dict) else value}")


@main.command("build-index")
@global_options
@click.option("--json", "as_json", is_flag=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def build_index(ctx, as_json, quiet):
    """Build the approximate index of the store now (needs --backend hnswlib, hnsw or ivf) and save it
    in the store folder, so that searches and later opens reuse it."""
    import time

    from tqdm import tqdm

    if ctx.find_root().obj.get("backend", "exact") == "exact":
        fail("build-index needs an approximate backend: hhmem --backend hnswlib|hnsw|ivf build-index (or HHMEM_BACKEND)")
    mem = open_memory(ctx, create=False)
    t0 = time.perf_counter()
    with tqdm(total=len(mem.retriever), unit="key", desc=f"{mem.retriever.backend.value} index", disable=quiet or as_json,
              file=sys.stderr) as bar:
        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            rows = mem.build_index(tick)
        except HHMemError as exc:
            fail(str(exc))
    out = {"backend": mem.retriever.backend.value, "rows": rows, "seconds": round(time.perf_counter() - t0, 3),
           "path": str(mem.index_path())}
    click.echo(json.dumps(out) if as_json else f"{out['backend']} index over {rows} keys in {out['seconds']} s: {out['path']}")


def demo_chains(corpus: list[tuple[str, dict]], ids: list[int]) -> dict[str, list[int]]:
    """Memory ids of each demo chain (metadata ``chain``), in ``step`` order."""
    steps: dict[str, list[tuple[int, int]]] = {}
    for (_, meta), mid in zip(corpus, ids):
        if "chain" in meta:
            steps.setdefault(meta["chain"], []).append((int(meta["step"]), mid))
    return {name: [mid for _, mid in sorted(pairs)] for name, pairs in steps.items()}


@main.command()
@global_options
@click.option("--keep", is_flag=True, help="Keep the demo store (in --store) instead of a temporary folder.")
@click.option("-k", default=3, show_default=True, type=click.IntRange(1, 50))
@click.pass_context
def demo(ctx, keep, k):
    """Ingest the bundled demo corpus and answer its sample questions (no data to fetch)."""
    obj = ctx.find_root().obj
    tmp = None
    if keep:
        path = Path(obj["store"])
        if path.exists() and any(path.iterdir()):
            fail(f"{path} already exists; --keep needs a new folder")
    else:
        tmp = tempfile.mkdtemp(prefix="hhmem-demo-")
        path = Path(tmp) / "store"
    try:
        mem = Memory.open(path, encoder=obj["model"])
        try:
            corpus = [(m["text"], m.get("metadata") or {}) for m in data.demo_corpus()]
            click.echo(f"hhmem {__version__} demo: {len(corpus)} memories, encoder {mem.encoder.name} on {mem.retriever.device}")
            ids = ingest(mem, corpus, namespace="demo", common={}, quiet=False)
            chains = demo_chains(corpus, ids)
            for chain in chains.values():
                mem.link(chain[:-1], chain[1:])
            click.echo(f"linked {len(chains)} chains of facts (A -> B -> C ...) in the Hebbian association matrix")
            hits = scored = chain_hits = chain_total = 0
            for q in data.demo_queries():
                click.echo(f"\nQ: {q['query']}")
                if "chain" in q:
                    steps = chains[q["chain"]]
                    results = mem.recall_chain(q["query"], hops=len(steps) - 1)
                    click.echo("(associative chain: hop 0 is the direct recall, then one association per hop)")
                    chain_total += 1
                    chain_hits += [r.id for r in results] == steps
                else:
                    results = mem.search(q["query"], k)
                    scored += 1
                    hits += bool(results) and results[0].text == q["expected"]
                print_results(results, as_json=False)
            click.echo(f"\ntop-1 correct on {hits}/{scored} demo questions; whole chain recalled for "
                       f"{chain_hits}/{chain_total} chain questions; store: {path if keep else '(temporary)'}")
        finally:
            mem.close()
    except HHMemError as exc:
        fail(str(exc))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    main()
