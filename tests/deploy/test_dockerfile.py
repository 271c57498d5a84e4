"""The one Dockerfile: every service from the repository, pinned by constraints.txt, non-root."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    # Join continuation lines, then keep the arguments of every NAME instruction.
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", text, re.MULTILINE)]


def test_the_image_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users, "no USER: the services would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_everything_the_image_copies_exists_and_is_not_ignored() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for copy in instructions("COPY"):
        *sources, _target = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
    assert "!deploy/bootstrap.py" in ignored


def test_every_service_and_the_kernel_are_installed_with_the_constraints() -> None:
    (install,) = [run for run in instructions("RUN") if "pip install" in run]
    assert "-c constraints.txt" in install
    assert "./shared" in install
    # Every services/*/ is installed by the glob; each must be a package.
    for service in (ROOT / "services").iterdir():
        if service.is_dir():
            assert (service / "pyproject.toml").is_file(), f"{service.name} has no pyproject.toml"
    assert "services/*/pyproject.toml" in install
