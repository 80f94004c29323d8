"""The GPU check's carried packages: what it imports beyond torch and transformers.

    .venv/bin/python benchmarks/gpu_bundle.py make .gpu-bundle [--python 3.12] [--full]
    python3 benchmarks/gpu_bundle.py install .gpu-bundle /tmp/site   # on the GPU machine (gpu_check.sh runs it)

`make` (on a machine that reaches PyPI, in the project's environment)
imports what the check runs - the harness modules, the family tests, the
benchmark - maps those modules to their distributions and their
requirements, less torch, transformers and all they require, and downloads
each at the version installed here as a wheel for the target interpreter
(the GPU machine's Python). Without --full it leaves out the scientific stack
(SCIENTIFIC) that GPU images hold and that would not fit the 64 MiB a lent
machine takes; `needs.txt` lists every distribution the check needs.

The bundle also carries transformers and what it requires (the project
needs transformers 5.24 or later; a GPU image may hold an older one).
`install` installs into a target folder the carried wheels whose
distribution the interpreter lacks or holds in an older version, with no
index and no network, and fails with one line per needed distribution that
is neither installed nor carried.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the check imports; the rest follows from these.
CHECK_MODULES = (
    "harness.pipeline",
    "harness.cell",
    "harness.config",
    "harness.families",
    "harness.backends.hf",
    "hydra",
    "psutil",
    "pytest",
    "yaml",
)
BASE = ("torch", "transformers")  # on the machine already
# Left out without --full: the scientific stack.
SCIENTIFIC = {"numpy", "scipy", "scikit-learn", "pandas", "joblib", "threadpoolctl", "python-dateutil", "six", "tzdata"}
# Imported by a library where installed, required by none of the check's: not needed.
OPPORTUNISTIC = {"pyarrow", "pillow", "dill", "cloudpickle", "attrs", "charset-normalizer", "narwhals"}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(dist: str) -> set[str]:
    """The installed distributions `dist` requires, recursively, itself included."""
    from packaging.requirements import Requirement

    seen, todo = set(), [dist]
    while todo:
        name = norm(todo.pop())
        if name in seen:
            continue
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for line in reqs:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def needed() -> set[str]:
    """Distributions the check's modules load, with their requirements, less BASE's."""
    sys.path.insert(0, str(ROOT / "src"))
    for module in CHECK_MODULES:
        importlib.import_module(module)
    owners = metadata.packages_distributions()
    loaded = {norm(d) for m in list(sys.modules) for d in owners.get(m.split(".")[0], [])}
    loaded -= {"harness", *OPPORTUNISTIC}
    base = set().union(*(requirements(b) for b in BASE))
    return set().union(*(requirements(d) for d in loaded)) - base


def make(folder: Path, python: str, full: bool) -> None:
    names = sorted(needed())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "needs.txt").write_text("".join(f"{n}=={metadata.version(n)}\n" for n in names))
    # transformers and what it requires, for a machine whose transformers is older than the project's.
    newer = requirements("transformers") - {"torch"}
    carried = sorted(n for n in {*names, *newer} if full or n not in SCIENTIFIC)
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    for name in carried:
        spec = f"{name}=={metadata.version(name)}"
        got = subprocess.run(
            [*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(folder)]
            + ["--python-version", python, "--implementation", "cp", *platforms, spec],
            capture_output=True,
        )
        if got.returncode:  # no wheel on the index (antlr4-python3-runtime 4.9.3): build one, pure Python only
            subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(folder), spec], check=True)
            if not any(folder.glob(f"{name.replace('-', '_')}-*-py3-none-any.whl")):
                sys.exit(f"gpu_bundle: {spec} has no wheel for Python {python} and is not pure Python")
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"{folder}: {len(carried)} wheels, {size / 2**20:.1f} MiB; needs.txt lists {len(names)} distributions")


def wheel_name(path: Path) -> str:
    return norm(path.name.split("-")[0])


def wheel_version(path: Path) -> str:
    return path.name.split("-")[1]


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def wanted(name: str, wheel: Path) -> bool:
    """Install a carried wheel where its distribution is missing or older."""
    from packaging.version import Version  # transformers requires packaging: it is there

    have = installed(name)
    return have is None or Version(have) < Version(wheel_version(wheel))


def install(folder: Path, target: Path) -> int:
    wheels = {wheel_name(w): w for w in sorted(folder.glob("*.whl"))}
    needs = [line.split("==")[0] for line in (folder / "needs.txt").read_text().split()]
    missing = [n for n in needs if not installed(n) and n not in wheels]
    for name in missing:
        print(f"gpu_bundle: {name} is needed, not installed and not in {folder} (make the bundle with --full)")
    if missing:
        return 1
    todo = [str(w) for n, w in wheels.items() if wanted(n, w)]
    if todo:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        subprocess.run([*pip, "--target", str(target), *todo], check=True)
    print(f"gpu_bundle: {len(todo)} of {len(wheels)} carried wheels installed into {target}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("folder", type=Path)
    m.add_argument("--python", default="3.12", help="the GPU machine's Python version")
    m.add_argument("--full", action="store_true", help="carry the scientific stack too (a bare venv)")
    i = sub.add_parser("install")
    i.add_argument("folder", type=Path)
    i.add_argument("target", type=Path)
    args = parser.parse_args()
    if args.command == "make":
        make(args.folder, args.python, args.full)
        return 0
    return install(args.folder, args.target)


if __name__ == "__main__":
    sys.exit(main())
