"""Archives and unpinned checksums: the lock file that records a download's sha256 the
first time and checks it ever after, and the verified, atomic extraction of the members a
corpus needs."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nmt.errors import DataError
from nmt.io import atomic_write

LOCK_NAME = "SHA256.lock"  # beside the data: checksums recorded on first fetch, extractions
CHUNK = 1 << 20


class ShaLock:
    """The lock file beside a corpus's data (JSON): ``sha256`` holds, per file the catalogue
    gives no checksum for, the sha256 its first fetch had; ``extracted`` holds, per archive,
    the sha256 it had when its members were extracted and each member's size."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"sha256": {}, "extracted": {}}
        except (OSError, ValueError) as e:
            raise DataError(
                f"{self.path}: cannot read it ({e}); delete it to record the checksums "
                "again (the next fetch pins what it finds)"
            ) from None
        if not isinstance(data, dict):
            raise DataError(f"{self.path}: not a lock file (a JSON object); delete it")
        return {key: dict(data.get(key) or {}) for key in ("sha256", "extracted")}

    def save(self, data: dict[str, dict[str, object]]) -> None:
        text = json.dumps(
            {"comment": LOCK_COMMENT, **data}, indent=2, sort_keys=True, ensure_ascii=False
        )
        atomic_write(self.path, lambda f: f.write(f"{text}\n".encode()))

    def recorded(self, name: str) -> str | None:
        value = self.load()["sha256"].get(name)
        return value if isinstance(value, str) else None

    def record(self, name: str, digest: str, log: Callable[[str], None]) -> None:
        data = self.load()
        data["sha256"][name] = digest
        self.save(data)
        log(
            f"{name}: its publisher gives no checksum; recorded its sha256 {digest} in "
            f"{self.path}, and every later use is checked against it"
        )

    def extraction(self, name: str) -> dict[str, object]:
        value = self.load()["extracted"].get(name)
        return value if isinstance(value, dict) else {}

    def record_extraction(self, name: str, digest: str, sizes: dict[str, int]) -> None:
        data = self.load()
        data["extracted"][name] = {"sha256": digest, "members": sizes}
        self.save(data)


LOCK_COMMENT = (
    "Written by nmt's fetch: sha256 = checksums recorded on the first fetch of files whose "
    "publisher gives none (later fetches must match); extracted = per archive, its sha256 "
    "when its members were extracted, and their sizes."
)


def extract_members(
    archive: Path,
    digest: str,
    members: tuple[str, ...],
    folder: Path,
    *,
    log: Callable[[str], None] = print,
) -> None:
    """Extract ``members`` of the verified tar ``archive`` (sha256 ``digest``) into ``folder``.

    Skipped when the lock file says this very archive was extracted and every member is
    there at its extracted size. Each member is written to a temp name and renamed into
    place; a member path that is absolute or climbs out (``..``), or that is not a plain
    file in the archive, is refused (DataError), as is an archive lacking a member.
    """
    lock = ShaLock(folder / LOCK_NAME)
    done = lock.extraction(archive.name)
    sizes = done.get("members")
    if (
        done.get("sha256") == digest
        and isinstance(sizes, dict)
        and set(sizes) == set(members)
        and all(_size(folder / m) == sizes[m] for m in members)
    ):
        return
    for member in members:
        _check_inside(member, archive)
    log(f"extracting {len(members)} files from {archive}")
    wanted = set(members)
    found: dict[str, int] = {}
    try:
        with tarfile.open(archive, "r|*") as tar:
            for info in tar:
                name = _strip_dot(info.name)
                if name not in wanted or name in found:
                    continue
                if not info.isfile():
                    raise DataError(
                        f"{archive}: member {info.name!r} is not a plain file (a link or a "
                        "folder); refusing to extract it: the archive is not the expected one"
                    )
                source = tar.extractfile(info)
                assert source is not None  # a regular file
                _write_atomically(folder / name, source, folder)
                found[name] = info.size
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(
            f"{archive}: cannot extract it ({e}); delete it to fetch it again"
        ) from None
    missing = sorted(wanted - set(found))
    if missing:
        raise DataError(
            f"{archive} has no {', '.join(missing)}: not the release the catalogue describes; "
            "delete it and fetch again, or check the mirror"
        )
    lock.record_extraction(archive.name, digest, found)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _strip_dot(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def _check_inside(member: str, archive: Path) -> None:
    """DataError unless ``member`` is a relative path that stays inside the corpus folder."""
    parts = member.replace("\\", "/").split("/")
    if not member or member.startswith("/") or ":" in parts[0] or ".." in parts or "" in parts:
        raise DataError(
            f"refusing to extract {member!r} from {archive}: the path is absolute or climbs "
            "out of the corpus folder; fix the catalogue entry"
        )


def _write_atomically(dest: Path, source: BinaryIO, folder: Path) -> None:
    """Copy ``source`` to ``dest`` through a temp file beside it and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.parent.resolve().is_relative_to(folder.resolve()):
        raise DataError(f"refusing to write {dest}: it resolves outside {folder}")
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
