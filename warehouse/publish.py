"""Publishing: analysts get a read-only copy that is replaced atomically after a good build.

DuckDB allows one writer per file and blocks readers while it writes, so analysts never open
the pipeline's build file. After a successful build the pipeline checkpoints it and, still holding
it (so no other run writes it mid-copy), copies it next to the published file and renames the copy
over it: an analyst who has the old file open keeps
reading the old build undisturbed (the rename does not touch open files), and sees the new one
on reconnect. A crash at any point leaves the previous published file intact; the half-written
copy a killed run leaves behind is deleted by a later publish.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from warehouse.buildfile import connect_writer
from warehouse.failpoints import failpoint
from warehouse.paths import sweep_stale

STALE_COPY_SECONDS = 3600  # a copy takes seconds; one this old was left by a killed run


def publish(build_db: Path, published: Path) -> Path:
    if not build_db.exists():
        raise FileNotFoundError(f"nothing to publish: {build_db} does not exist (run the transforms first)")
    published.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(published.parent.glob(f".{published.name}.*.tmp"), STALE_COPY_SECONDS)
    tmp = published.with_name(f".{published.name}.{uuid.uuid4().hex}.tmp")
    # the connection holds the build file while it is copied: no other run writes it mid-copy
    with connect_writer(build_db) as conn:
        conn.execute("checkpoint")
        try:
            shutil.copyfile(build_db, tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            failpoint("publish.copied")
            os.replace(tmp, published)
        finally:
            tmp.unlink(missing_ok=True)
    return published
