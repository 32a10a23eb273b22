"""Fetch corpus files: the data folder, then a mirror, then the official address.

Every file is written to a temporary name beside its destination, verified
against the catalogue's sha256 and only then renamed into place, so a partial
or corrupt file never stands under the data folder.
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
    """Make every file of ``corpus`` (or those ``langs`` need) present and verified.

    Returns the corpus folder ``<root>/<folder>``.
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    folder = data_root(root) / corpus.folder
    for entry in corpus.files_for(langs):
        fetch_file(entry, folder, corpus.folder, mirror=mirror, url_base=url_base, log=log)
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
    dest = dest_dir / entry.name
    if dest.is_file():
        actual = sha256_file(dest)
        if actual == entry.sha256:
            return dest
        dest.unlink()
        log(f"{dest}: checksum mismatch (sha256 {actual}); removed it, fetching it again")
    mirror_path = mirror_dir(mirror)
    if mirror_path is not None:
        src = mirror_path / mirror_folder / entry.name
        if not src.is_file():
            raise DataError(
                f"{entry.name} is missing from the mirror: {src} does not exist; "
                "fix the mirror or unset NMT_DATA_MIRROR / data.mirror to download it"
            )
        log(f"copying {src} -> {dest}")
        with _staged(dest, entry, origin=str(src)) as out, src.open("rb") as f:
            shutil.copyfileobj(f, out, CHUNK)
        return dest
    base = url_base or os.environ.get(URL_BASE_ENV)
    url = f"{base.rstrip('/')}/{mirror_folder}/{entry.name}" if base else entry.url
    log(f"downloading {url}")
    with _staged(dest, entry, origin=url) as out:
        _download(url, out, entry.name)
    return dest


class _HashingWriter:
    """A file-like sink that hashes what it writes."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.f.write(data)


@contextlib.contextmanager
def _staged(dest: Path, entry: RemoteFile, origin: str) -> Iterator[_HashingWriter]:
    """Yield a writer to a temp file beside ``dest``; verify and rename it on success."""
    created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{entry.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            writer = _HashingWriter(f)
            yield writer
        actual = writer.digest.hexdigest()
        if actual != entry.sha256:
            raise DataError(
                f"checksum mismatch for {entry.name} from {origin}: expected sha256 "
                f"{entry.sha256}, got {actual}; the source is corrupt or a different "
                "release: replace it (or unset the mirror to download the official file)"
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
