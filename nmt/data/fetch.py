"""Fetch corpus files: the data folder, then a mirror, then the official address.

Every file is written to a temporary name beside its destination, verified
against the catalogue's sha256 and only then renamed into place, so a partial
or corrupt file never stands under the data folder.

A file whose publisher gives no checksum (``sha256=None`` in the catalogue) is pinned on
first use instead: its sha256 is recorded in the corpus folder's lock file
(``<root>/<folder>/SHA256.lock``) and every later use, and every later download of it, must
match. Archives are extracted after verification: only the members the catalogue names,
each atomically, never outside the corpus folder, and only again when the archive changed
or a member is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from nmt.data.archive import LOCK_NAME, ShaLock, extract_members
from nmt.data.catalogue import Corpus, RemoteFile, get_corpus
from nmt.data.config import data_root, mirror_dir
from nmt.errors import DataError

CHUNK = 1 << 20
URL_BASE_ENV = "NMT_DATA_URL_BASE"  # replaces the official addresses: <base>/<folder>/<file>


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_corpus(
    corpus: str | Corpus,
    root: str | os.PathLike[str] | None = None,
    mirror: str | os.PathLike[str] | None = None,
    *,
    langs: tuple[str, ...] | None = None,
    url_base: str | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Make every file of ``corpus`` (or those ``langs`` need) present and verified, and
    every archive's members extracted.

    Returns the corpus folder ``<root>/<folder>``.
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    folder = data_root(root) / corpus.folder
    for entry in corpus.files_for(langs):
        path, digest = _fetch_verified(
            entry, folder, corpus.folder, mirror=mirror, url_base=url_base, log=log
        )
        if entry.members:
            extract_members(path, digest, entry.members, folder, log=log)
    return folder


def fetch_file(
    entry: RemoteFile,
    dest_dir: Path,
    mirror_folder: str,
    *,
    mirror: str | os.PathLike[str] | None = None,
    url_base: str | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Fetch one file into ``dest_dir`` (mirror path: ``<mirror>/<mirror_folder>/<name>``)."""
    return _fetch_verified(
        entry, dest_dir, mirror_folder, mirror=mirror, url_base=url_base, log=log
    )[0]


def _fetch_verified(
    entry: RemoteFile,
    dest_dir: Path,
    mirror_folder: str,
    *,
    mirror: str | os.PathLike[str] | None,
    url_base: str | None,
    log: Callable[[str], None],
) -> tuple[Path, str]:
    """:func:`fetch_file`, also returning the file's verified sha256."""
    dest = dest_dir / entry.name
    lock = ShaLock(dest_dir / LOCK_NAME)
    recorded = None if entry.sha256 else lock.recorded(entry.name)
    expected = entry.sha256 or recorded
    if dest.is_file():
        actual = sha256_file(dest)
        if expected is None:  # no checksum anywhere yet: this first use pins it
            lock.record(entry.name, actual, log)
            return dest, actual
        if actual == expected:
            return dest, actual
        if recorded is not None:
            raise DataError(
                f"{dest}: sha256 {actual} differs from {recorded} recorded in {lock.path} "
                "when it was first fetched, so nothing was used: the file changed (corrupt, or "
                f"another release); delete {dest} to fetch it again, or delete its entry from "
                f"{lock.path} to accept it as it is"
            )
        dest.unlink()
        log(f"{dest}: checksum mismatch (sha256 {actual}); removed it, fetching it again")
    pinned_by = None if entry.sha256 else lock.path  # the checksum's origin, for messages
    mirror_path = mirror_dir(mirror)
    if mirror_path is not None:
        src = mirror_path / mirror_folder / entry.name
        if not src.is_file():
            raise DataError(
                f"{entry.name} is missing from the mirror: {src} does not exist; "
                "fix the mirror or unset NMT_DATA_MIRROR / data.mirror to download it"
            )
        log(f"copying {src} -> {dest}")
        staged = _staged(dest, entry.name, expected, str(src), pinned_by)
        with staged as out, src.open("rb") as f:
            shutil.copyfileobj(f, out, CHUNK)
    else:
        base = url_base or os.environ.get(URL_BASE_ENV)
        url = f"{base.rstrip('/')}/{mirror_folder}/{entry.name}" if base else entry.url
        log(f"downloading {url}")
        with _staged(dest, entry.name, expected, url, pinned_by) as out:
            _download(url, out, entry.name)
    actual = out.digest.hexdigest()
    if expected is None:
        lock.record(entry.name, actual, log)
    return dest, actual


class _HashingWriter:
    """A file-like sink that hashes what it writes."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.f.write(data)


@contextlib.contextmanager
def _staged(
    dest: Path, name: str, expected: str | None, origin: str, lock_path: Path | None = None
) -> Iterator[_HashingWriter]:
    """Yield a writer to a temp file beside ``dest``; on success verify it against
    ``expected`` (the catalogue's sha256, or the one ``lock_path`` recorded; None accepts
    any) and rename it into place."""
    created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            writer = _HashingWriter(f)
            yield writer
        actual = writer.digest.hexdigest()
        if expected is not None and actual != expected:
            if lock_path is None:
                pinned = ""
                fix = "replace it (or unset the mirror to download the official file)"
            else:
                pinned = f" (recorded in {lock_path} when it was first fetched)"
                fix = f"fix the source, or delete the entry of {name} in {lock_path} to accept it"
            raise DataError(
                f"checksum mismatch for {name} from {origin}: expected sha256 {expected}"
                f"{pinned}, got {actual}; nothing was used: the source is corrupt or a "
                f"different release: {fix}"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                dest.parent.rmdir()
        raise


def _download(url: str, out: _HashingWriter, name: str) -> None:
    """Stream ``url`` into ``out`` with a progress bar; DataError on any failure."""
    hint = "check the network, or set NMT_DATA_MIRROR to a local copy of the downloads"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DataError(f"download of {url} failed: HTTP {e.code} {e.reason}; {hint}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"cannot download {url}: {reason}; {hint}") from None
