"""Python processes that run as on a machine without some package (hyperscan is installed on
x86_64 only): the test shows what floodwall does there."""

from __future__ import annotations

import os
from pathlib import Path


def env_without(directory: Path, *modules: str) -> dict[str, str]:
    """The environment of a Python process in which `import` of each of `modules` fails.

    A `sitecustomize` module written into `directory` and put first on PYTHONPATH sets
    `sys.modules[name] = None` at start, which makes every `import name` raise ImportError,
    in that process and in every Python process it starts (forked or not)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in modules))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(directory), *([path] if path else [])]))
