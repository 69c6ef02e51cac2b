"""What an installed DeepGuard reads at run time is installed with it.

The Docker image installs the project as a wheel (`pip install .`), not from the work tree, so a
data file the code opens (the C2PA trust list, the message catalogs) must be named in
pyproject.toml's package-data or the image starts without it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "core", "api", "bots")


def _package_data() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as source:
        data: dict[str, list[str]] = tomllib.load(source)["tool"]["setuptools"]["package-data"]
    return data


def _shipped() -> set[Path]:
    files: set[Path] = set()
    for package, patterns in _package_data().items():
        base = ROOT / package.replace(".", "/")
        for pattern in patterns:
            files |= {path for path in base.glob(pattern) if path.is_file()}
    return files


def _data_files() -> set[Path]:
    return {
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
    }


def test_every_data_file_of_the_packages_is_installed() -> None:
    missing = sorted(str(path.relative_to(ROOT)) for path in _data_files() - _shipped())
    assert not missing, f"not in pyproject.toml's package-data: {missing}"


def test_the_trust_list_is_among_them() -> None:
    """The check above looks at something: the shipped C2PA trust list is a data file."""
    assert ROOT / "core" / "provenance" / "C2PA-TRUST-LIST.pem" in _shipped() & _data_files()
