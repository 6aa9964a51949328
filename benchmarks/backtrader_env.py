"""The backtest benchmark's own virtual environment with backtrader in it (not a tradesim dependency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The newest release on PyPI (2023-04); pure Python, it installs and runs on CPython 3.10 to 3.13.
# matplotlib is only imported for plotting, which the benchmark never does, so nothing else is installed.
BACKTRADER_REQUIREMENT = "backtrader==1.9.78.123"
VENV_DIRECTORY = Path("benchmarks") / ".venv-backtrader"
STAMP_NAME = ".installed-stamp"
OUTPUT_TAIL_LINES = 20


def venv_python(venv: Path) -> Path:
    """The interpreter inside the virtual environment at ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def ensure_env(root: Path) -> Path:
    """Create ``benchmarks/.venv-backtrader`` under the project ``root`` once; return its python.

    The stamp records the requirement it was made for, so a later call returns at once and a changed pin
    rebuilds the environment. Raises RuntimeError naming the command and the tail of its output on failure.
    """
    venv = root.resolve() / VENV_DIRECTORY
    python = venv_python(venv)
    stamp = venv / STAMP_NAME
    if python.exists() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == BACKTRADER_REQUIREMENT:
        return python
    # Without the stamp the environment is unfinished or stale: start it over rather than trust its state.
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", BACKTRADER_REQUIREMENT])
    stamp.write_text(BACKTRADER_REQUIREMENT + "\n", encoding="utf-8")
    return python


def _run(command: list[str]) -> None:
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    except OSError as exc:
        raise RuntimeError(f"could not start `{' '.join(command)}`: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-OUTPUT_TAIL_LINES:])
        raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{tail}")


if __name__ == "__main__":
    print(ensure_env(Path(__file__).resolve().parent.parent))
