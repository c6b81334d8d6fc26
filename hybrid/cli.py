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
from .config import MAX_TEXT_CHARS
from .errors import HHMemError
from .memory import MAX_HOPS, STORE_ENV, Memory, SearchResult, default_store_path
from .times import iso, parse_time

#: name -> "module:attribute" of click commands defined elsewhere.
LAZY_COMMANDS: dict[str, str] = {
    "check": "hybrid.check:check",
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
#: Longest input line read by ``add`` (characters): a text at the length limit plus room for JSONL
#: metadata. Lines are read up to this bound, so a file without newlines (``/dev/zero``) fails fast.
MAX_LINE_CHARS = MAX_TEXT_CHARS + 64 * 1024


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        """Bad input reaching the library from any command is a one-line error, never a traceback."""
        try:
            return super().invoke(ctx)
        except HHMemError as exc:
            raise click.ClickException(str(exc)) from None


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
        except (json.JSONDecodeError, RecursionError):
            value = raw
        out[key] = value
    return out


def read_items(texts: Sequence[str], file: str | None, jsonl: bool) -> Iterator[tuple[str, dict | None, Any]]:
    """Memories to add, ``(text, metadata, created_at)``, from arguments, a file (one per line, or
    JSONL with ``text`` and optional ``metadata`` and ``created_at``) or standard input."""
    yield from ((t, None, None) for t in texts)
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
                yield line.rstrip("\n"), None, None
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"{name}:{lineno}: not valid JSON ({exc.msg})")
            except RecursionError:
                fail(f"{name}:{lineno}: JSON nested too deeply")
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                fail(f"{name}:{lineno}: each JSONL line needs a \"text\" string")
            meta = obj.get("metadata")
            if meta is not None and not isinstance(meta, dict):
                fail(f"{name}:{lineno}: \"metadata\" must be an object")
            created = obj.get("created_at")
            if created is not None:
                try:
                    created = parse_time(created, relative=False)
                except HHMemError as exc:
                    fail(f"{name}:{lineno}: {exc}")
            yield obj["text"], meta, created
    finally:
        if fh is not sys.stdin:
            fh.close()


def _lines(fh, name: str) -> Iterator[tuple[int, str]]:
    """Numbered lines of ``fh``, each read up to :data:`MAX_LINE_CHARS` (longer ones are an error)."""
    lineno = 0
    while True:
        lineno += 1
        try:
            line = fh.readline(MAX_LINE_CHARS + 1)
        except UnicodeDecodeError as exc:
            fail(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})")
        if not line:
            return
        if len(line) > MAX_LINE_CHARS:
            fail(f"{name}:{lineno}: line longer than {MAX_LINE_CHARS} characters (one memory is at most "
                 f"{MAX_TEXT_CHARS}); is this a text file?")
        yield lineno, line


def ingest(mem: Memory, items: list[tuple], *, namespace: str, common: dict, quiet: bool,
           created_at: Any = None, dedupe: bool = True) -> list[int]:
    """Add ``(text, metadata[, created_at])`` items in committed chunks of :data:`INGEST_CHUNK`
    with a progress bar; ``created_at`` is the time of items that carry none."""
    from tqdm import tqdm

    ids: list[int] = []
    with tqdm(total=len(items), unit="mem", desc="ingest", disable=quiet or len(items) < 2, file=sys.stderr) as bar:
        for start in range(0, len(items), INGEST_CHUNK):
            chunk = items[start : start + INGEST_CHUNK]
            metas = [{**common, **(it[1] or {})} for it in chunk]
            times = [it[2] if len(it) > 2 and it[2] is not None else created_at for it in chunk]
            ids += mem.add([it[0] for it in chunk], metadata=metas, namespace=namespace, dedupe=dedupe,
                           created_at=times)
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
    text_w = max(30, width - 62)
    click.echo(f"{'rank':>4}  {'id':>6}  {'score':>6}  {'hop':>3}  {'created':<10}  {'via':<20}  text")
    for rank, r in enumerate(results, 1):
        text = r.text.replace("\n", " ")
        text = text if len(text) <= text_w else text[: text_w - 1] + "…"
        day = (iso(r.created_at) or "")[:10]
        via = r.via if len(r.via) <= 20 else r.via[:19] + "…"
        click.echo(f"{rank:>4}  {r.id:>6}  {r.score:6.3f}  {r.hop:>3}  {day:<10}  {via:<20}  {text}")


#: The options of the ``hhmem`` group, as ``(name, click.option keywords)``: accepted before the
#: sub-command and, through :func:`global_options`, after it (``hhmem add --store S ...``).
GLOBAL_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--store", dict(type=click.Path(file_okay=False), help=f"Store folder, or a postgresql:// URI of a shared "
                                                            f"store [env {STORE_ENV}; default ./hhmem-store].")),
    ("--model", dict(help="Encoder: 'default' (offline all-MiniLM-L6-v2), a sentence-transformers name/path, "
                          "or 'hash' (tests) [default: default].")),
    ("--backend", dict(type=click.Choice(["exact", "hnswlib", "hnsw", "ivf", "pgvector"]),
                       help="Stage 1 of recall: exact, or an approximate index for large stores (kept in the "
                            "store folder between runs; pgvector: in a postgresql:// store's database) "
                            "[env HHMEM_BACKEND; default: exact].")),
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
@click.option("--created-at", default=None,
              help="Time of the memories (epoch seconds or ISO 8601); a JSONL \"created_at\" wins. Default: now.")
@click.option("--keep-duplicates", is_flag=True,
              help="Store a text again even when the namespace already holds the same text (default: reuse its id).")
@click.option("--json", "as_json", is_flag=True, help="Print the ids as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def add(ctx, texts, file, jsonl, namespace, meta, created_at, keep_duplicates, as_json, quiet):
    """Store memories from arguments, a file or standard input.

    A text already stored in the namespace is not stored twice: its existing id is returned
    (--keep-duplicates stores copies)."""
    items = list(read_items(texts, file, jsonl))
    if not items:
        fail("nothing to add: the input has no non-blank line")
    try:
        when = None if created_at is None else parse_time(created_at, name="--created-at", relative=False)
    except HHMemError as exc:
        fail(str(exc))
    mem = open_memory(ctx)
    try:
        before = mem.count()
        ids = ingest(mem, items, namespace=namespace, common=parse_pairs(meta, "--meta"), quiet=quiet or as_json,
                     created_at=when, dedupe=not keep_duplicates)
        added = mem.count() - before
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"ids": ids, "added": added, "duplicates": len(ids) - added}))
    else:
        dup = f"; {len(ids) - added} already stored (ids reused)" if len(ids) > added else ""
        click.echo(f"added {added} memories (ids {ids[0]}..{ids[-1]}){dup} to {mem.store.path}")


@main.command()
@global_options
@click.argument("query")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 1000), help="Number of results.")
@click.option("--namespace", "-n", default=None)
@click.option("--where", "-w", multiple=True, help="key=value metadata equality filter (repeatable).")
@click.option("--hops", default=0, show_default=True, type=click.IntRange(0, MAX_HOPS),
              help="Also rank memories reached through up to this many associations.")
@click.option("--since", default=None, help="Only memories created at or after this time: ISO 8601, epoch "
              "seconds, or a duration before now (7d, 12h, 30m).")
@click.option("--until", default=None, help="Only memories created at or before this time (same forms as --since).")
@click.option("--min-score", type=float, default=None,
              help="Drop results whose cosine to the query is below this.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def search(ctx, query, k, namespace, where, hops, since, until, min_score, as_json):
    """Recall the memories that best match QUERY (the default recall: dense + BM25 seeds, link and
    concept spread; each result says how it was reached)."""
    mem = open_memory(ctx, create=False)
    try:
        results = mem.search(query, k, namespace=namespace, where=parse_pairs(where, "--where"), hops=hops,
                             since=since, until=until, min_score=min_score)
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
        click.echo(f"id:        {rec.id}\nnamespace: {rec.namespace}\ncreated:   {iso(rec.created_at)}\n"
                   f"metadata:  {json.dumps(rec.metadata)}\ntext:      {rec.text}")


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


def parse_metadata_args(values: Sequence[str], option: str) -> dict[str, Any]:
    """``--metadata`` values: each ``key=value`` or a JSON object, merged left to right."""
    out: dict[str, Any] = {}
    for value in values:
        if value.lstrip().startswith("{"):
            try:
                obj = json.loads(value)
            except json.JSONDecodeError as exc:
                fail(f"{option}: not a valid JSON object ({exc.msg}): {value!r}")
            if not isinstance(obj, dict):
                fail(f"{option} expects key=value or a JSON object, got {value!r}")
            out.update(obj)
        else:
            out.update(parse_pairs([value], option))
    return out


@main.command()
@click.argument("memory_id", type=click.IntRange(1))
@click.option("--text", "-t", default=None, help="New text (its keys are encoded again).")
@click.option("--metadata", "-m", "metadata", multiple=True,
              help="key=value or a JSON object, merged into the memory's metadata (repeatable).")
@click.option("--replace-metadata", is_flag=True, help="Replace the whole metadata with --metadata instead of merging.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def update(ctx, memory_id, text, metadata, replace_metadata, as_json):
    """Change a memory's text and/or metadata."""
    if text is None and not metadata and not replace_metadata:
        fail("nothing to update: give --text and/or --metadata")
    changes = parse_metadata_args(metadata, "--metadata")
    mem = open_memory(ctx, create=False)
    try:
        new_meta = None
        if metadata or replace_metadata:
            new_meta = changes if replace_metadata else {**mem.get(memory_id).metadata, **changes}
        mem.update(memory_id, text=text, metadata=new_meta)
        rec = mem.get(memory_id)
    except HHMemError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"updated {rec.id}: metadata {json.dumps(rec.metadata, ensure_ascii=False)}; text: {rec.text[:90]}")


@main.command("export")
@click.option("--namespace", "-n", default=None, help="Only this namespace (and the links between its memories).")
@click.option("--vectors", is_flag=True, help="Include the key vectors (base64), so an import with the same "
              "encoder encodes nothing.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True,
              help="Output file; '-' is standard output.")
@click.pass_context
def export_(ctx, namespace, vectors, out):
    """Write memories, their times, metadata, keys and links as JSONL (format: docs/architecture.md)."""
    mem = open_memory(ctx, create=False)
    try:
        if out == "-":
            counts = mem.export_jsonl(sys.stdout, namespace=namespace, vectors=vectors)
        else:
            tmp = Path(out).with_name(f".{Path(out).name}.tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                counts = mem.export_jsonl(fh, namespace=namespace, vectors=vectors)
            tmp.replace(out)
    except HHMemError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}")
    click.echo(f"exported {counts['memories']} memories and {counts['links']} links", err=True)


@main.command("import")
@click.argument("file", type=str)
@click.option("--namespace", "-n", default=None, help="Put every memory into this namespace instead of its own.")
@click.option("--keep-duplicates", is_flag=True, help="Store a memory even when its namespace holds the same text.")
@click.option("--json", "as_json", is_flag=True, help="Print the result with the old -> new id mapping as JSON.")
@click.pass_context
def import_(ctx, file, namespace, keep_duplicates, as_json):
    """Store the memories and links of an `hhmem export` file ('-' for standard input)."""
    name = "<stdin>" if file == "-" else file
    try:
        fh = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        fail(f"{name}: {exc.strerror or exc}")
    mem = open_memory(ctx)
    try:
        res = mem.import_jsonl(_line_text(fh, name), name=name, dedupe=not keep_duplicates, namespace=namespace)
    except HHMemError as exc:
        fail(str(exc))
    finally:
        if fh is not sys.stdin:
            fh.close()
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        click.echo(f"imported {res.added} memories ({res.duplicates} already stored) and {res.links} links "
                   f"into {mem.store.path}; ids: " + ", ".join(f"{a}->{b}" for a, b in list(res.ids.items())[:20])
                   + (" ..." if len(res.ids) > 20 else ""))


def _line_text(fh, name: str) -> Iterator[str]:
    for _, line in _lines(fh, name):
        yield line


@main.command("list")
@global_options
@click.option("--namespace", "-n", default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0), help="Page size; 0: no limit.")
@click.option("--all", "all_", is_flag=True, help="Every memory (same as --limit 0).")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, namespace, limit, all_, offset, as_json):
    """List memories in id order."""
    mem = open_memory(ctx, create=False)
    try:
        recs = mem.list(namespace=namespace, limit=None if all_ or limit == 0 else limit, offset=offset)
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
    in the store folder, so that searches and later opens reuse it; with --backend pgvector, build
    the HNSW index in the PostgreSQL store's database."""
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
           "path": str(mem.index_path() or f"{mem.store.path} (in the database)")}
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
            graph = mem.concept_graph.stats()
            click.echo(f"learned {graph['synapses']} memory-concept synapses over {graph['concept_cells']} concept "
                       "cells at ingest (no hand-made links)")
            hits = scored = chain_hits = chain_total = 0
            for q in data.demo_queries():
                click.echo(f"\nQ: {q['query']}")
                if "chain" in q:
                    steps = chains[q["chain"]]
                    results = mem.recall_chain(q["query"], hops=len(steps) - 1, through="concepts")
                    click.echo("(associative chain through concept cells: hop 0 is the direct recall, then per hop "
                               "the memory sharing the most specific concepts with the last)")
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
