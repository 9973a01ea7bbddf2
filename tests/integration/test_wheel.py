"""The wheel is the product: built from the project (offline, no build isolation), it carries the
article's config_samples, and installed in a fresh virtualenv, outside the checkout, the lab finds them
and runs from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import PORT_RANGE, require_lab

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "config_samples"


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project's tracked files (the checkout stays untouched)."""
    work = tmp_path_factory.mktemp("wheel")
    tracked = run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    source = work / "source"
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            target.symlink_to(os.readlink(ROOT / name))
        else:
            shutil.copy2(ROOT / name, target)
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        work / "dist",
        source,
        cwd=work,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (work / "dist").glob("mailconsole-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with the wheel installed: its own console and widgets; the dependencies are
    borrowed from this interpreter's site-packages (a plain path: no .pth of this checkout runs)."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv
    ).stdout
    Path(purelib.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "--disable-pip-version-check",
        wheel,
        cwd=venv.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield venv


def test_the_wheel_carries_config_samples(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            n.removeprefix("console/config_samples/"): archive.read(n)
            for n in archive.namelist()
            if n.startswith("console/config_samples/") and not n.endswith("/")
        }
    expected = {
        str(p.relative_to(SAMPLES)): p.read_bytes() for p in SAMPLES.rglob("*") if p.is_file()
    }
    assert shipped == expected


def test_installed_console_finds_its_samples_anywhere(installed: Path, tmp_path: Path) -> None:
    code = (
        "import console, sys; from console.lab.render import SAMPLES_DIR, sample\n"
        "print(console.__file__); print(SAMPLES_DIR); sys.stdout.write(sample('smtpd.conf'))\n"
    )
    done = run(installed / "bin" / "python", "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    module, samples, text = done.stdout.split("\n", 2)
    assert module.startswith(str(installed)) and samples.startswith(str(installed))
    assert text == (SAMPLES / "smtpd.conf").read_text()


def test_installed_command_line_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = run(installed / "bin" / "mailconsole", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lab" in done.stdout and "queue" in done.stdout


@pytest.mark.lab
def test_lab_up_from_the_installed_wheel_in_any_directory(installed: Path, tmp_path: Path) -> None:
    require_lab(filters=False)
    from console.lab.run import free_port_bases

    lab_dir = Path(f"/tmp/mc-wheel-lab-{os.getpid()}")
    mailconsole = installed / "bin" / "mailconsole"
    try:
        for base in free_port_bases(PORT_RANGE):
            up = run(
                mailconsole, "lab", "up", "--dir", lab_dir, "--port-base", str(base), cwd=tmp_path
            )
            if "in use" not in up.stderr:
                break
        assert up.returncode == 0, up.stdout + up.stderr
        assert "lab running in" in up.stdout
        assert (lab_dir / "config" / "fdm.conf").read_text() == (SAMPLES / "fdm.conf").read_text()
    finally:
        down = run(mailconsole, "lab", "down", "--dir", lab_dir, cwd=tmp_path)
        shutil.rmtree(lab_dir, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
