"""The drop-folder loader: lands the analytics export files an operator drops in a shop's folder.

Each `[[traffic]]` entry with `source = "exports"` names a folder (`drop_dir`) for one shop. A scan
takes the files that have settled (not modified for `settle_seconds`: a file still being copied is
left for the next scan), oldest first, and for each one:

- already loaded (same bytes, by SHA-256: a manifest exists): "duplicate", nothing lands;
- readable: its days land as one extraction (`<channel>/traffic/exports`, record id
  `day_total|<date>`), then a manifest is written; "loaded";
- unreadable: "quarantined", with the reason beside the file and in a record under landing.

Then the file moves to `_loaded/` or `_quarantine/` in the drop folder, so the folder shows what is
still to do. Staging keeps the latest extraction of each (shop, day): a corrected file replaces the
days it covers, and re-dropping an identical file changes nothing. Only file names, hashes and
numbers are logged or stored (these shop-level reports hold no personal data).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.common.errors import ConfigError
from connectors.common.reports import report_page
from connectors.config import TrafficConfig
from connectors.exports.formats import ExportFileError, ExportFormat, format_for, read_export
from warehouse.landing import LandingWriter

log = logging.getLogger(__name__)

ENTITY = "traffic/exports"
SUFFIXES = (".csv", ".xlsx", ".xls")
LOADED_DIR = "_loaded"
QUARANTINE_DIR = "_quarantine"
MANIFEST_DIR = "_files"


@dataclass(frozen=True)
class FileOutcome:
    path: Path  # where the file is now
    name: str  # its name when it was dropped
    sha256: str
    status: str  # "loaded" | "duplicate" | "quarantined"
    days: int = 0  # days landed (first to last of the file)
    rows: int = 0  # data rows read
    reason: str | None = None  # why it was quarantined


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _move(path: Path, folder: Path) -> Path:
    """Move a file into a folder, keeping its name, or `name (2).csv` etc. if it is taken."""
    folder.mkdir(exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists():
        n += 1
        target = folder / f"{path.stem} ({n}){path.suffix}"
    shutil.move(path, target)
    return target


class ExportDropLoader:
    def __init__(self, entry: TrafficConfig, landing_root: Path, settle_seconds: float = 10.0) -> None:
        self.entry = entry
        self.channel, self.shop_id = entry.channel, entry.shop_id
        try:
            self.format: ExportFormat = format_for(entry.channel, entry.option("format"))
        except ValueError as exc:
            raise ConfigError(
                f"traffic entry exports {entry.channel}/{entry.shop_id}: option 'format': {exc}"
            ) from exc
        self.drop_dir = Path(entry.require("drop_dir"))
        self.drop_dir.mkdir(parents=True, exist_ok=True)
        self.landing_root = landing_root
        self.exports_root = landing_root / entry.channel / ENTITY
        self.settle_seconds = settle_seconds

    def pending(self) -> list[Path]:
        """Settled export files directly in the drop folder, oldest first."""
        cutoff = time.time() - self.settle_seconds
        found = []
        for path in self.drop_dir.iterdir():
            name = path.name
            # dot-files and Excel's lock files (~$name.xlsx) of a workbook open in the folder
            if name.startswith((".", "~$")) or path.suffix.lower() not in SUFFIXES or not path.is_file():
                continue
            mtime = path.stat().st_mtime
            if mtime <= cutoff:
                found.append((mtime, name, path))
        return [path for _, _, path in sorted(found)]

    def load_pending(self, now: datetime) -> list[FileOutcome]:
        """Load every settled file. Files are landed in the order they settled, each a microsecond
        after the previous one, so a correction dropped together with the file it corrects wins."""
        if now.tzinfo is None:
            raise ValueError(f"naive datetime {now!r}: pass an aware datetime")
        # One loader per shop at a time: two runs (the sensor's and an `omni run`) would otherwise
        # both read a file and one would fail moving what the other already moved. The lock lives
        # beside the manifests, not in the drop folder operators look at.
        locks = self.exports_root / MANIFEST_DIR
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f".{self.shop_id}.loading.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            return [
                self.load_file(path, now + timedelta(microseconds=i)) for i, path in enumerate(self.pending())
            ]

    def load_file(self, path: Path, now: datetime) -> FileOutcome:
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        name = path.name
        if (self.exports_root / MANIFEST_DIR / f"{sha256}.json").exists():
            moved = _move(path, self.drop_dir / LOADED_DIR)
            log.info(
                "%s/%s export %s (%s) was loaded before: skipped", self.channel, self.shop_id, name, sha256
            )
            return FileOutcome(moved, name, sha256, "duplicate")
        try:
            export = read_export(path, self.format, data)
        except ExportFileError as exc:
            return self._quarantine(path, sha256, f"{self.channel}/{self.shop_id}: {exc}", now)
        records = export.records()
        result = LandingWriter(self.landing_root).land(
            self.channel,
            ENTITY,
            self.shop_id,
            export.first_day,
            export.last_day,
            [report_page(records, extracted_at=now)],
            extracted_at=now,
        )
        days = len(result.files)
        _write_json(
            self.exports_root / MANIFEST_DIR / f"{sha256}.json",
            {
                "sha256": sha256,
                "file": name,
                "channel": self.channel,
                "shop_id": self.shop_id,
                "format": self.format.name,
                "first_day": export.first_day.isoformat(),
                "last_day": export.last_day.isoformat(),
                "days": days,
                "rows": result.rows,
                "loaded_at": now.isoformat(),
            },
        )
        moved = _move(path, self.drop_dir / LOADED_DIR)
        log.info(
            "%s/%s export %s (%s): %d rows, %s to %s",
            self.channel,
            self.shop_id,
            name,
            sha256,
            result.rows,
            export.first_day,
            export.last_day,
        )
        return FileOutcome(moved, name, sha256, "loaded", days=days, rows=result.rows)

    def _quarantine(self, path: Path, sha256: str, reason: str, now: datetime) -> FileOutcome:
        name = path.name
        moved = _move(path, self.drop_dir / QUARANTINE_DIR)
        moved.with_name(f"{moved.name}.reason.txt").write_text(
            f"{reason}\nsha256: {sha256}\ndetected_at: {now.isoformat()}\n", encoding="utf-8"
        )
        _write_json(
            self.exports_root / QUARANTINE_DIR / f"{sha256}.json",
            {
                "sha256": sha256,
                "file": name,
                "channel": self.channel,
                "shop_id": self.shop_id,
                "format": self.format.name,
                "reason": reason,
                "detected_at": now.isoformat(),
            },
        )
        log.warning("quarantined %s: %s", moved.name, reason)
        return FileOutcome(moved, name, sha256, "quarantined", reason=reason)
