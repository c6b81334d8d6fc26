"""``hhmem check``: list the damaged rows of a store, and quarantine them with ``--repair``.

A damaged row (a flipped byte that makes its text or metadata invalid UTF-8 or invalid JSON, a
key vector with NaN entries ...) is skipped with a warning by every read; this command finds them
all and, with ``--repair``, moves them into the ``quarantine`` table of the same database (raw
bytes and the reason kept), so reads stop warning and the rest of the store is untouched. It opens
only the database: no encoder is loaded.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .errors import HHMemError
from .store import Store


def check_store(path: str | os.PathLike, *, repair: bool = False) -> dict[str, Any]:
    """``{"path", "damaged": [{"id", "reason"}], "quarantined": [ids]}`` for the store at ``path``."""
    with Store.open(path, create=False) as store:
        damaged = store.damaged()
        moved = store.quarantine(damaged) if repair and damaged else []
        where = str(store.path)  # a PostgreSQL URI without its password
    return {"path": where, "damaged": damaged, "quarantined": moved}


@click.command()
@click.option("--repair", is_flag=True, help="Move the damaged rows into the store's quarantine table.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check(ctx: click.Context, repair: bool, as_json: bool) -> None:
    """List memories whose stored text, metadata or key vectors are damaged (exit 1 when any remain)."""
    path = ctx.find_root().obj["store"]
    try:
        report = check_store(path, repair=repair)
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for item in report["damaged"]:
            click.echo(f"memory {item['id']}: {item['reason']}")
        if report["quarantined"]:
            click.echo(f"quarantined {len(report['quarantined'])} memories (table 'quarantine' of {report['path']})")
        elif not report["damaged"]:
            click.echo(f"{report['path']}: no damaged memories")
    if report["damaged"] and not report["quarantined"]:
        ctx.exit(1)
