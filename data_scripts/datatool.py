"""Shared engine of the data scripts: download, prepare (safe extraction + layout) and verify.

Each setting's script (``3deg.py``, ``5deg.py``, ``cdd11.py``, ``allweather.py``,
``weatherbench.py``, ``medical.py``) is a small table of ``Source``s (where each piece
comes from and how its files are placed) and ``Expect``s (the layout and its published
counts), handed to :func:`main`. Run ``python data_scripts/<setting>.py --help``.

Folders under ``--root`` (default ``$EXDA_DATA/<subdir>``, else ``~/.cache/exda-lite/<subdir>``,
the rule of ``exda_lite.course.notebook.default_data_dir``):

* ``downloads/``  what was fetched, plus ``manifest.json``: sha256, size and origin of every file
* ``staging/``    archives extracted, one folder per source (delete it after ``prepare``); images of
  sources placed as folders are hard-linked from ``downloads/`` into the layout instead
* ``verify-missing.txt``  written by ``verify``: every missing file it could name
* everything else: the layout the dataset classes in ``exda_lite.data.datasets`` read

Downloads: Google Drive through gdown, other hosts through urllib with HTTP Range resume
(rerun the same command after an interruption). ``--mirror URL`` (or ``$EXDA_DATA_MIRROR``)
fetches every source as ``URL/<filename>`` instead (a lab mirror, or the tests' local
server). ``--manifest FILE`` checks each fetched file against the sha256 recorded by
another machine. Sources with no automatic download print exact instructions.

Public name lists (``lists/``, via ``names.py``) restrict what ``prepare`` places (``Place.allow``) and let
``verify`` name missing files (``Expect.names``); ``Setting.pairs`` lets it name files whose partner is
missing. Extraction refuses, before writing anything: members with absolute paths or ``..`` that
would land outside the target, links pointing outside it, device files, and absurd sizes
(total, per member, compression ratio, free disk).

This file deliberately does not import torch or exda_lite: a download machine needs only
the standard library, tqdm and gdown.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

# The engine is split by step; every name stays importable from here (the setting scripts and the tests use
# datatool.X): datatool_core (tables, errors, manifest), datatool_archive (safe extraction),
# datatool_prepare (staging and placing), datatool_verify (counts and missing names).
from datatool_archive import archive_kind, archive_members, check_archive, inside, safe_extract  # noqa: F401
from datatool_archive import walk_files  # noqa: F401
from datatool_core import CHUNK, DATA_ENV, GiB, IMAGE_SUFFIXES, MIRROR_ENV  # noqa: F401
from datatool_core import ChecksumError, DataToolError, DownloadError, UnsafeArchiveError  # noqa: F401
from datatool_core import Expect, Place, Setting, Source  # noqa: F401
from datatool_core import full_disk, human, load_manifest, record, selected, sha256_of, write_atomic  # noqa: F401
from datatool_prepare import archive_stem, do_prepare, link_or_copy, place_files, stage  # noqa: F401
from datatool_verify import count_images, do_verify, format_table, image_files, missing_names  # noqa: F401
from datatool_verify import pair_keys, shown, stem_of, unpaired, verify_downloads, verify_report  # noqa: F401
from datatool_verify import verify_rows  # noqa: F401




# --------------------------------------------------------------------------- HTTP download with resume

def http_download(url: str, dest: Path, expected: dict | None = None, quiet: bool = False, timeout: float = 60) -> Path:
    """Fetch ``url`` to ``dest``, resuming a previous ``dest.part`` with an HTTP Range request.

    The file only gets its final name once complete (size as announced by the server, and
    sha256/size equal to ``expected`` when given). An interrupted transfer keeps the
    ``.part`` file and raises ``DownloadError``: run again to resume.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "exda-lite-data-scripts"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: the .part holds everything
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}. Check the link (or --mirror) "
                                "and retry.") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: cannot connect ({err}). Check the network and retry.") from err
    total = None
    if response is not None:
        with response:
            resumed = offset and response.status == 206
            length = response.headers.get("Content-Length")
            if not resumed:
                offset = 0  # the server ignored Range: start over
            total = offset + int(length) if length is not None else None
            with open(part, "ab" if resumed else "wb") as out, \
                    tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name, disable=quiet) as bar:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
                except (http.client.IncompleteRead, OSError) as err:
                    if full_disk(err):
                        have = part.stat().st_size
                        raise DownloadError(
                            f"no space left on device while writing {part} ({human(total - have) if total else 'the rest'}"
                            f" more needed); the {human(have)} downloaded so far are kept in it: free space and run "
                            "the same command again to resume") from err
                    raise DownloadError(f"{dest.name}: transfer interrupted after {part.stat().st_size} bytes "
                                        f"({err.__class__.__name__}); run the same command again to resume") from err
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"{dest.name}: got {size} of {total} bytes; run the same command again to resume")
    if expected and expected.get("size") is not None and size != expected["size"]:
        if size < expected["size"]:
            raise DownloadError(f"{dest.name}: got {size} of {expected['size']} bytes (per the manifest); "
                                "run the same command again to resume")
        os.replace(part, dest.with_name(dest.name + ".corrupt"))
        raise ChecksumError(f"{dest.name}: {size} bytes, but the manifest says {expected['size']}; moved aside "
                            f"to {dest.name}.corrupt. Run the download again to fetch it afresh.")
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------- Google Drive (gdown)

def gdown_module():
    try:
        import gdown
    except ImportError as err:
        raise DataToolError("Google Drive downloads need gdown: pip install gdown (it is in exda-lite's "
                            "dependencies)") from err
    return gdown


def drive_failure(source: Source, err: Exception) -> DownloadError:
    link = (f"https://drive.google.com/drive/folders/{source.gdrive_folder}" if source.gdrive_folder
            else f"https://drive.google.com/file/d/{source.gdrive_file}/view")
    return DownloadError(f"{source.name}: Google Drive refused the download ({err}). Drive often does this "
                         f"after too many downloads of a public file (quota) - retry later, or open {link} in a "
                         f"browser and save it as downloads/{source.filename} (a folder: into downloads/"
                         f"{source.name}/), then run prepare.")


# --------------------------------------------------------------------------- download step

def fetch(source: Source, downloads: Path, mirror: str | None, expected_manifest: dict, quiet: bool) -> list[str]:
    """Fetch one source into ``downloads``, check and record it; returns the manifest names written."""
    target = downloads / source.filename
    expected = expected_manifest.get(source.filename)
    if mirror or source.url:
        url = f"{mirror.rstrip('/')}/{source.filename}" if mirror else source.url
        if not target.exists():
            http_download(url, target, expected, quiet=quiet)
        record(downloads, target, url, expected)
        return [source.filename]
    gdown = gdown_module()
    if source.gdrive_file:
        if not target.exists():
            try:
                gdown.download(id=source.gdrive_file, output=str(target), quiet=quiet, resume=True)
            except Exception as err:  # gdown raises several types; all mean "Drive said no"
                raise drive_failure(source, err) from err
        record(downloads, target, f"gdrive:{source.gdrive_file}", expected)
        return [source.filename]
    folder = downloads / source.name
    try:
        gdown.download_folder(id=source.gdrive_folder, output=str(folder), quiet=quiet, resume=True)
    except Exception as err:
        raise drive_failure(source, err) from err
    names = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = file.relative_to(downloads).as_posix()
        record(downloads, file, f"gdrive-folder:{source.gdrive_folder}", expected_manifest.get(name))
        names.append(name)
    return names


def manual_instructions(source: Source, root: Path) -> str:
    return (f"[{source.name}] {source.what}: no automatic download.\n    {source.manual}\n"
            f"    Put the file(s) in {root / 'downloads' / source.name}/ (archives or folders), then run prepare.")


def do_download(setting: Setting, root: Path, only, mirror: str | None, manifest: Path | None, quiet: bool) -> int:
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    expected = load_manifest(manifest)["files"] if manifest else {}
    failures, manual = [], []
    for source in selected(setting, only):
        if source.manual and not mirror:
            folder, single = downloads / source.name, downloads / source.filename
            placed = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
            placed += [single] if single.is_file() else []
            if placed:
                try:
                    for file in placed:
                        record(downloads, file, "manual", expected.get(file.relative_to(downloads).as_posix()))
                    print(f"[{source.name}] found {len(placed)} file(s) you placed; recorded their sha256")
                except DataToolError as err:
                    failures.append(f"[{source.name}] {err}")
            else:
                manual.append(manual_instructions(source, root))
            continue
        try:
            names = fetch(source, downloads, mirror, expected, quiet)
            print(f"[{source.name}] ok: {', '.join(names)}")
        except DataToolError as err:
            failures.append(f"[{source.name}] {err}")
    for text in manual:
        print("\nACTION NEEDED " + text)
    for text in failures:
        print("\nFAILED " + text, file=sys.stderr)
    print(f"\nmanifest: {downloads / 'manifest.json'} (copy it to another machine and pass --manifest to check "
          "its downloads)")
    return 1 if failures else 0




# --------------------------------------------------------------------------- command line

def default_root(setting: Setting) -> Path:
    base = os.environ.get(DATA_ENV) or str(Path.home() / ".cache" / "exda-lite")
    return Path(base).expanduser() / setting.subdir


def parser_for(setting: Setting) -> argparse.ArgumentParser:
    sources = "\n".join(f"  {s.name:16s} {s.size:>10s}  {s.filename:20s} {s.what}"
                        + ("  (optional)" if s.optional else "") + ("  (manual)" if s.manual else "")
                        for s in setting.sources)
    parser = argparse.ArgumentParser(
        prog=f"python data_scripts/{setting.name}.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{setting.description}\n\nsources (name, size, file name under downloads/ and on a mirror):\n"
                    f"{sources}\n(Google Drive folders land in downloads/<name>/; manual sources go there too)",
        epilog="Usual order: download, prepare, verify. See data_scripts/README.md.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("download", "fetch the sources into ROOT/downloads (resumable)"),
                       ("prepare", "extract safely and lay the files out as the dataset classes expect"),
                       ("verify", "print expected vs found counts; exit 1 when incomplete")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--root", type=Path, default=default_root(setting),
                       help=f"data folder (default: {default_root(setting)})")
        if name in ("download", "prepare"):
            p.add_argument("--only", nargs="+", metavar="SOURCE", help="only these sources (also optional ones)")
        if name == "download":
            p.add_argument("--mirror", default=os.environ.get(MIRROR_ENV),
                           help=f"fetch every source as MIRROR/<filename> instead (default ${MIRROR_ENV})")
            p.add_argument("--manifest", type=Path, help="manifest.json from another machine: check sha256 against it")
            p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "prepare":
            p.add_argument("--keep-staging", action="store_true", help="keep ROOT/staging after placing the files")
        if name == "verify":
            p.add_argument("--downloads", action="store_true", help="also re-hash ROOT/downloads against manifest.json")
    return parser


def load_setting(name: str) -> Setting:
    """The ``SETTING`` table of ``data_scripts/<name>.py`` (file names like 3deg.py are not importable)."""
    import importlib.util

    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:  # the setting scripts do `from datatool import ...`
        sys.path.insert(0, str(here))
    path = here / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"data_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SETTING


def main(setting: Setting, argv=None) -> int:
    args = parser_for(setting).parse_args(argv)
    root = args.root.expanduser().resolve()
    try:
        if args.command == "download":
            return do_download(setting, root, args.only, args.mirror, args.manifest, args.quiet)
        if args.command == "prepare":
            return do_prepare(setting, root, args.only, args.keep_staging)
        return do_verify(setting, root, args.downloads)
    except DataToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if not full_disk(err):
            raise
        print(f"error: no space left on device while writing {err.filename or 'under ' + str(root)}; files already "
              "complete are kept (downloads resume from their .part file): free space and run the same command "
              "again", file=sys.stderr)
        return 1
