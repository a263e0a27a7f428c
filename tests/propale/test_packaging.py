"""The production image gets the product and nothing else: the runtime lock holds no dev or test tool,
and the `propale` wheel carries its templates and none of the stand-ins."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_AND_TEST_TOOLS = {"pytest", "playwright", "aiosmtpd", "pypdf", "ruff", "mypy", "pytest-xdist"}


def _pinned_names(lock: Path) -> set[str]:
    names = set()
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def test_the_runtime_lock_has_no_dev_or_test_tool_and_the_dev_lock_has_them_all() -> None:
    runtime = _pinned_names(ROOT / "requirements.txt")
    dev = _pinned_names(ROOT / "requirements-dev.txt")
    assert runtime & DEV_AND_TEST_TOOLS == set()
    assert dev >= DEV_AND_TEST_TOOLS
    assert {"apache-airflow", "stripe", "hubspot-api-client", "weasyprint", "alembic"} <= runtime


def test_the_dev_lock_holds_the_runtime_at_the_same_versions() -> None:
    def pins(lock: Path) -> dict[str, str]:
        return dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read_text(), re.MULTILINE))

    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    assert {name: version for name, version in runtime.items() if dev.get(name) != version} == {}


def test_the_image_installs_the_runtime_lock_only_and_a_regular_install_of_the_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line.strip() for line in dockerfile.splitlines() if "pip install" in line]
    assert any("-r requirements.txt" in line for line in installs)
    assert not any("requirements-dev" in line or " -e " in line or "dev/" in line for line in installs)
    assert "COPY dev" not in dockerfile


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the wheel (`make install` installs it)")
def test_the_wheel_carries_the_templates_and_renders_from_them_without_the_source_tree(tmp_path: Path) -> None:
    # Built from a copy, as the image builds it from what it copies: nothing is written into the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "propale", source / "propale", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        ["uv", "build", "--quiet", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("propale-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "propale/templates/receipt.html" in names
    assert not [name for name in names if name.startswith("propale_dev/") or "/sandbox/" in name]

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # The unpacked wheel comes first on the path, ahead of the editable install of the repository.
    script = (
        "import propale, propale.rendering as r; "
        "print(propale.__file__); print(r.environment().get_template('proposal_email.txt').filename)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    module_file, template_file = result.stdout.split()
    assert module_file.startswith(str(unpacked)) and template_file.startswith(str(unpacked))
