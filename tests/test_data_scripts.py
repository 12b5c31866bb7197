"""data_scripts, fully offline: a local HTTP server on 127.0.0.1 plays the download hosts.

Covered: resumed, truncated and corrupted downloads; the sha256 manifest checked on a
"second machine"; archives that try to escape their folder (refused, nothing written
outside); absurd sizes; the download -> prepare -> verify chain of a real setting through
a mirror; verify on full, partial and empty trees.
"""

import dataclasses
import hashlib
import importlib
import io
import json
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data_scripts"))
datatool = importlib.import_module("datatool")  # data_scripts/ is not a package: import it by path
DownloadError, UnsafeArchiveError = datatool.DownloadError, datatool.UnsafeArchiveError
Expect, Setting, http_download, load_setting, main, safe_extract = (
    datatool.Expect, datatool.Setting, datatool.http_download, datatool.load_setting, datatool.main,
    datatool.safe_extract)

SETTINGS = ("3deg", "5deg", "cdd11", "allweather", "weatherbench", "medical")


# --------------------------------------------------------------------------- the local "host"

class Host(BaseHTTPRequestHandler):
    """Serves ``server.files[name]``; honours ``Range: bytes=N-`` unless told not to; can cut transfers short."""

    def do_GET(self):
        name = self.path.lstrip("/")
        self.server.requests.append((name, self.headers.get("Range")))
        if name not in self.server.files:
            self.send_error(404)
            return
        body = self.server.files[name]
        behaviour = self.server.behaviour.get(name, "")
        start = 0
        if self.headers.get("Range") and behaviour != "no-range":
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        self.wfile.write(payload[: len(payload) // 2] if behaviour == "truncate" else payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Host)
    server.files, server.behaviour, server.requests = {}, {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def png_bytes(seed=0, shape=(8, 8, 3)):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tar(members: list) -> bytes:
    """members: (name, bytes) for files, (name, "symlink" | "hardlink", target) for links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for member in members:
            info = tarfile.TarInfo(member[0])
            if len(member) == 3:
                info.type = tarfile.SYMTYPE if member[1] == "symlink" else tarfile.LNKTYPE
                info.linkname = member[2]
                tf.addfile(info)
            else:
                info.size = len(member[1])
                tf.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def files_under(path: Path) -> set:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


# --------------------------------------------------------------------------- downloads

def test_download_resumes_a_partial_file_with_a_range_request(host, tmp_path):
    body = bytes(range(256)) * 40
    host.files["data.zip"] = body
    (tmp_path / "data.zip.part").write_bytes(body[:3000])
    http_download(f"{host.url}/data.zip", tmp_path / "data.zip", quiet=True)
    assert (tmp_path / "data.zip").read_bytes() == body and not (tmp_path / "data.zip.part").exists()
    assert host.requests == [("data.zip", "bytes=3000-")]


def test_download_restarts_when_the_server_ignores_range(host, tmp_path):
    body = b"abcdefgh" * 500
    host.files["data.zip"], host.behaviour["data.zip"] = body, "no-range"
    (tmp_path / "data.zip.part").write_bytes(b"garbage")
    http_download(f"{host.url}/data.zip", tmp_path / "data.zip", quiet=True)
    assert (tmp_path / "data.zip").read_bytes() == body


def test_truncated_download_is_detected_kept_and_resumed(host, tmp_path):
    body = b"0123456789" * 1000
    host.files["data.zip"], host.behaviour["data.zip"] = body, "truncate"
    with pytest.raises(DownloadError, match="resume"):
        http_download(f"{host.url}/data.zip", tmp_path / "data.zip", quiet=True)
    assert not (tmp_path / "data.zip").exists()
    assert 0 < (tmp_path / "data.zip.part").stat().st_size < len(body)
    host.behaviour.clear()
    http_download(f"{host.url}/data.zip", tmp_path / "data.zip", quiet=True)
    assert (tmp_path / "data.zip").read_bytes() == body
    assert host.requests[-1][1] == f"bytes={len(body) // 2}-"


def test_missing_file_on_host_is_a_clear_error(host, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        http_download(f"{host.url}/nothing.zip", tmp_path / "nothing.zip", quiet=True)


def tiny_setting(expected=()):
    places = (datatool.Place(r"(?P<keep>(train|test)/.+)$", "."),)
    source = datatool.Source("pack", "a tiny pack", "pack.zip", places, url="http://unused.invalid/pack.zip")
    return Setting("tiny", "tiny", "a tiny made-up setting", (source,), tuple(expected))


def test_manifest_lets_a_second_machine_detect_a_corrupted_download(host, tmp_path, capsys):
    good = make_zip({"train/a/1.png": png_bytes(1)})
    host.files["pack.zip"] = good
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(tiny_setting(), ["download", "--root", str(first), "--mirror", host.url, "--quiet"]) == 0
    manifest = json.loads((first / "downloads/manifest.json").read_text())
    assert manifest["files"]["pack.zip"]["sha256"] == hashlib.sha256(good).hexdigest()
    assert manifest["files"]["pack.zip"]["size"] == len(good)

    host.files["pack.zip"] = good[:-10] + b"X" * 10  # same size, different bytes
    code = main(tiny_setting(), ["download", "--root", str(second), "--mirror", host.url, "--quiet",
                                 "--manifest", str(first / "downloads/manifest.json")])
    assert code == 1 and "sha256" in capsys.readouterr().err
    assert not (second / "downloads/pack.zip").exists() and (second / "downloads/pack.zip.corrupt").exists()
    assert "pack.zip" not in datatool.load_manifest(second / "downloads/manifest.json")["files"]


def test_verify_downloads_rehashes_against_the_manifest(host, tmp_path, capsys):
    host.files["pack.zip"] = make_zip({"train/a/1.png": png_bytes(1)})
    setting = tiny_setting(expected=[Expect("train", "a", "train/a", 1)])
    main(setting, ["download", "--root", str(tmp_path), "--mirror", host.url, "--quiet"])
    main(setting, ["prepare", "--root", str(tmp_path)])
    assert main(setting, ["verify", "--root", str(tmp_path), "--downloads"]) == 0
    (tmp_path / "downloads/pack.zip").write_bytes(b"changed")
    assert main(setting, ["verify", "--root", str(tmp_path), "--downloads"]) == 1
    assert "CHANGED  pack.zip" in capsys.readouterr().out


def test_google_drive_sources_go_through_gdown_with_resume(monkeypatch, tmp_path):
    calls = []

    class FakeGdown:
        @staticmethod
        def download(id, output, quiet, resume):
            calls.append((id, resume))
            Path(output).write_bytes(b"zip bytes")

    monkeypatch.setitem(sys.modules, "gdown", FakeGdown)
    source = datatool.Source("x", "x", "x.zip", (), gdrive_file="DRIVE_ID")
    assert datatool.fetch(source, tmp_path, None, {}, quiet=True) == ["x.zip"]
    assert calls == [("DRIVE_ID", True)]
    assert json.loads((tmp_path / "manifest.json").read_text())["files"]["x.zip"]["origin"] == "gdrive:DRIVE_ID"

    def refuse(**kwargs):
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setattr(FakeGdown, "download", staticmethod(refuse))
    with pytest.raises(DownloadError, match=r"drive\.google\.com/file/d/OTHER") as refused:
        datatool.fetch(datatool.Source("y", "y", "y.zip", (), gdrive_file="OTHER"), tmp_path, None, {}, quiet=True)
    assert "downloads/y.zip" in str(refused.value)  # names where to save it by hand


def test_manual_sources_print_instructions_and_record_what_the_user_placed(tmp_path, capsys):
    setting = load_setting("3deg")
    ots_only = ["download", "--root", str(tmp_path), "--only", "ots"]
    assert main(setting, ots_only) == 0
    out = capsys.readouterr().out
    assert "ACTION NEEDED [ots]" in out and "sites.google.com/view/reside-dehaze-datasets" in out
    assert str(tmp_path / "downloads" / "ots") in out
    (tmp_path / "downloads/ots").mkdir(parents=True)
    (tmp_path / "downloads/ots/OTS_part1.zip").write_bytes(b"placed by hand")
    main(setting, ots_only)
    assert "ots/OTS_part1.zip" in json.loads((tmp_path / "downloads/manifest.json").read_text())["files"]


# --------------------------------------------------------------------------- safe extraction

EVIL = {
    "zip ..": lambda: make_zip({"ok/1.png": b"x", "../evil.png": b"pwned"}),
    "zip absolute": lambda: make_zip({"/tmp/exda_evil_abs.png": b"pwned"}),
    "tar ..": lambda: make_tar([("ok/1.png", b"x"), ("ok/../../evil.png", b"pwned")]),
    "tar symlink out": lambda: make_tar([("ok/link", "symlink", "../../outside"), ("ok/1.png", b"x")]),
    "tar absolute symlink": lambda: make_tar([("ok/passwd", "symlink", "/etc/passwd")]),
    "tar hardlink out": lambda: make_tar([("ok/hard", "hardlink", "../outside.txt")]),
}


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_malicious_archives_are_refused_before_anything_is_written(kind, tmp_path):
    archive = tmp_path / "evil.bin"
    archive.write_bytes(EVIL[kind]())
    before = files_under(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract(archive, tmp_path / "target")
    assert files_under(tmp_path) == before, "nothing may be written, not even the target folder"
    assert not Path("/tmp/exda_evil_abs.png").exists()


def test_absurd_sizes_and_non_archives_are_refused(tmp_path):
    archive = tmp_path / "big.zip"
    archive.write_bytes(make_zip({f"f{i}.png": b"\0" * 4000 for i in range(3)}))
    with pytest.raises(UnsafeArchiveError, match=r"3\.9 KiB"):
        safe_extract(archive, tmp_path / "t", max_member_bytes=1000)
    with pytest.raises(UnsafeArchiveError, match=r"11\.7 KiB"):
        safe_extract(archive, tmp_path / "t", max_total_bytes=10 * 1024)
    with pytest.raises(UnsafeArchiveError, match="3 members"):
        safe_extract(archive, tmp_path / "t", max_members=2)
    with pytest.raises(UnsafeArchiveError, match="bomb"):
        safe_extract(archive, tmp_path / "t", max_ratio=5, ratio_floor_bytes=1000)
    html = tmp_path / "page.zip"
    html.write_text("<html>Google Drive - Virus scan warning</html>")
    with pytest.raises(UnsafeArchiveError, match=r"\btar\b"):
        safe_extract(html, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_good_tar_extracts(tmp_path):
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(make_tar([("a/1.png", b"one"), ("a/link.png", "symlink", "1.png")]))
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out/a/1.png").read_bytes() == b"one"


def test_prepare_refuses_a_traversal_archive_served_as_a_real_source(host, tmp_path, capsys):
    # extracted into root/staging/pack/pack/: five levels up is outside root and outside tmp_path
    host.files["pack.zip"] = make_zip({"train/a/1.png": png_bytes(), "../../../../../escaped.png": b"pwned"})
    root = tmp_path / "root"
    setting = tiny_setting()
    assert main(setting, ["download", "--root", str(root), "--mirror", host.url, "--quiet"]) == 0
    assert main(setting, ["prepare", "--root", str(root)]) == 1
    assert "refusing to extract pack.zip" in capsys.readouterr().err
    assert files_under(tmp_path) - {"root"} <= {p for p in files_under(tmp_path) if p.startswith("root/")}
    assert not (tmp_path.parent / "escaped.png").exists() and not list(tmp_path.rglob("escaped.png"))


# --------------------------------------------------------------------------- a real setting end to end

def rain100l_and_friends() -> dict:
    """Made-up archives for every 3deg source, in plausible upstream layouts."""
    return {
        "BSD400.zip": make_zip({f"BSD400/{i}.png": png_bytes(i) for i in range(3)}),
        "WED.zip": make_zip({f"WED/img/{i:05d}.bmp": png_bytes(10 + i) for i in range(2)}),
        "Rain100L.zip": make_zip({
            **{f"Rain100L/train/rainy/rain-{i}.png": png_bytes(20 + i) for i in (1, 2)},
            **{f"Rain100L/train/norain-{i}.png": png_bytes(30 + i) for i in (1, 2)},
            "Rain100L/test/rain-1.png": png_bytes(40), "Rain100L/test/norain-1.png": png_bytes(41)}),
        "denoise_test.zip": make_zip({"test/CBSD68/0.png": png_bytes(50), "test/Urban100/img_001.png": png_bytes(51),
                                      "test/Kodak/k.png": png_bytes(52)}),
        # 0025 and 3068 are in PromptIR's OTS list; 0001 is not (OTS has it, the benchmark does not use it)
        "ots.zip": make_zip({"OTS/part1/0025_0.8_0.2.jpg": png_bytes(60), "OTS/part2/3068_1_0.08.jpg": png_bytes(61),
                             "OTS/part1/0001_0.8_0.2.jpg": png_bytes(64), "OTS/clear/0001.jpg": png_bytes(65),
                             "OTS/clear/0025.jpg": png_bytes(62), "OTS/clear/3068.jpg": png_bytes(63)}),
        "sots.zip": make_zip({"SOTS/outdoor/hazy/0001_0.8_0.2.jpg": png_bytes(70),
                              "SOTS/outdoor/gt/0001.png": png_bytes(71)}),
    }


def test_3deg_download_prepare_verify_through_a_mirror(host, tmp_path, capsys):
    host.files.update(rain100l_and_friends())
    setting, root = load_setting("3deg"), tmp_path / "allinone"
    assert main(setting, ["download", "--root", str(root), "--mirror", host.url, "--quiet"]) == 0
    assert main(setting, ["prepare", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "[rain100l]      2 files -> Train/Derain/rainy" in out
    assert "[denoise_test] 1 images matched no rule" in out and "Kodak/k.png" in out  # reported, not guessed
    assert sorted(p.name for p in (root / "Train/Derain/gt").iterdir()) == ["norain-1.png", "norain-2.png"]
    assert sorted(p.name for p in (root / "test/derain/Rain100L/input").iterdir()) == ["rain-1.png"]
    assert (root / "Train/Dehaze/synthetic/part2/3068_1_0.08.jpg").exists()
    assert not (root / "Train/Dehaze/synthetic/part1/0001_0.8_0.2.jpg").exists()  # not in PromptIR's list
    assert "[ots] 2 images are not in the benchmark's public file list" in out
    assert len(list((root / "Train/Denoise").iterdir())) == 5
    assert main(setting, ["verify", "--root", str(root)]) == 1  # a tiny tree is honestly incomplete
    table = capsys.readouterr().out
    assert re.search(r"\ntrain +Rain100L rainy +Train/Derain/rainy +200 +2 +INCOMPLETE \(198 short\)\n", table)
    assert re.search(r"\ntrain +OTS clear +Train/Dehaze/original +2061 +2 +INCOMPLETE \(2059 short\)\n", table)
    assert "MISSING Train/Derain/rainy: 198 listed file(s) missing: rain-10.png, rain-100.png" in table

    from exda_lite.data.datasets import AllInOneTest, AllInOneTrain  # the dataset classes read what prepare wrote

    train = AllInOneTrain(root, "3deg", patch_size=8)
    assert train.task_counts()["derain"] == 240 and train[len(train) - 1][0].shape == (3, 8, 8)
    assert len(AllInOneTest(root, "dehaze")) == 1


def test_verify_on_a_full_tree_passes(tmp_path, capsys):
    # CDD11's real table, cut to two of its twelve 1,183-image training folders (and the test split) for speed
    cdd11 = load_setting("cdd11")
    kept = tuple(e for e in cdd11.expected if e.split == "test" or e.folder in ("train/clear", "train/low_haze_rain"))
    setting = dataclasses.replace(cdd11, expected=kept)
    for expect in setting.expected:
        folder = tmp_path / expect.folder
        folder.mkdir(parents=True)
        for i in range(expect.count or 1):
            (folder / f"{i}.png").touch()
    assert main(setting, ["verify", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\ntrain +low_haze_rain +train/low_haze_rain +1183 +1183 +ok\n", out)
    assert "all folders complete" in out


def test_verify_on_partial_and_empty_trees(tmp_path, capsys):
    setting = load_setting("3deg")
    for folder, count in (("test/derain/Rain100L/input", 100), ("test/derain/Rain100L/target", 60)):
        (tmp_path / folder).mkdir(parents=True)
        for i in range(count):
            (tmp_path / folder / f"rain-{i}.png").touch()
    assert main(setting, ["verify", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"\ntest +Rain100L input +test/derain/Rain100L/input +100 +100 +ok\n", out)
    assert "INCOMPLETE (40 short)" in out and "MISSING" in out and "10 of 11 folders" in out
    assert main(setting, ["verify", "--root", str(tmp_path / "empty")]) == 1
    assert "nothing found under" in capsys.readouterr().out


def test_scripts_run_as_commands_and_list_their_sources(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "data_scripts/3deg.py"), "verify", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "Rain100L target" in result.stdout
    for name in SETTINGS:
        setting = load_setting(name)
        assert setting.name == name and setting.expected and setting.sources
        help_text = datatool.parser_for(setting).format_help()
        assert all(source.name in help_text for source in setting.sources)


def test_script_roots_agree_with_the_dataset_classes(monkeypatch, tmp_path):
    from exda_lite.data.datasets import default_root

    monkeypatch.setenv("EXDA_DATA", str(tmp_path))
    for name in SETTINGS:
        assert datatool.default_root(load_setting(name)) == default_root(name)


def test_medical_prepare_makes_mri_low_resolution_slices(tmp_path):
    from exda_lite.data.degradations import mri_undersample

    hq = np.random.default_rng(0).integers(0, 65536, (32, 32)).astype(np.uint16)
    (tmp_path / "train/mri/hq").mkdir(parents=True)
    Image.fromarray(hq).save(tmp_path / "train/mri/hq/s1.png")
    assert main(load_setting("medical"), ["prepare", "--root", str(tmp_path)]) == 0
    lq = np.asarray(Image.open(tmp_path / "train/mri/lq/s1.png"))
    assert lq.dtype == np.uint16
    np.testing.assert_allclose(lq / 65535, mri_undersample(hq / 65535.0), atol=1 / 65535)


def fill(folder: Path, file_names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in file_names:
        (folder / name).touch()


def test_raindrop_test_a_is_58_and_test_b_249_is_optional(tmp_path, capsys):
    setting = load_setting("allweather")
    counts = {e.folder: (e.count, e.optional) for e in setting.expected}
    assert counts["test/raindrop/input"] == (58, False) and counts["test/raindrop_b/input"] == (249, True)
    raindrop_only = dataclasses.replace(setting, expected=tuple(e for e in setting.expected if "raindrop" in e.folder))
    fill(tmp_path / "test/raindrop/input", [f"{i}_rain.png" for i in range(58)])
    fill(tmp_path / "test/raindrop/gt", [f"{i}_clean.png" for i in range(58)])
    assert main(raindrop_only, ["verify", "--root", str(tmp_path)]) == 0  # test_b absent: fine, it is optional
    assert re.search(r"RainDrop test_b input +test/raindrop_b/input +249 +0 +absent \(optional\)", capsys.readouterr().out)
    fill(tmp_path / "test/raindrop_b/input", [f"{i}_rain.png" for i in range(200)])  # present but short: fails
    fill(tmp_path / "test/raindrop_b/gt", [f"{i}_clean.png" for i in range(249)])
    assert main(raindrop_only, ["verify", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE (49 short)" in out and "test/raindrop_b/gt/200_clean.png" in out


def test_verify_warns_about_outdoor_rain_training_images_of_test1_backgrounds(tmp_path, capsys):
    setting = load_setting("allweather")
    fill(tmp_path / "train/input", ["im_0001_s80_a04.png", "im_0002_s85_a05.png", "scene_00001.jpg"])
    fill(tmp_path / "test/outdoor_rain/input", ["im_0001_s90_a06.png"])
    problems, warnings = setting.extra_verify(tmp_path)
    assert problems == [] and len(warnings) == 1 and "1 training image(s)" in warnings[0]
    assert "im_0001_s80_a04.png" in warnings[0] and "im_0002" not in warnings[0]


def test_medical_verify_checks_the_patient_split_and_leakage(tmp_path):
    medical = load_setting("medical")
    from exda_lite.data.layout import AMIR_PATIENT_SPLITS

    assert medical.extra_verify.__globals__["PATIENT_SPLITS"] == AMIR_PATIENT_SPLITS  # one table, two copies
    patients = [f"L{i:03d}" for i in range(10)]
    for split, chosen in (("train", patients[:8]), ("val", patients[8:9]), ("test", patients[9:])):
        fill(tmp_path / split / "ct/hq", [f"{p}_0001.png" for p in chosen])
    problems, _ = medical.extra_verify(tmp_path)
    assert problems == []  # 8/1/1 patients, none shared
    fill(tmp_path / "test/ct/hq", ["L000_0002.png"])  # a training patient in the test split
    problems, _ = medical.extra_verify(tmp_path)
    assert any("L000" in p and "leakage" in p for p in problems)
    assert any("are 8/1/2" in p and "split is 8/1/1" in p for p in problems)
