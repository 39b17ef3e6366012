"""Which pip extra brings which optional package, and the one-line hints built from that.

The device install (``pip install edge-detect``) has none of these packages. Every message
that tells a user what to install comes from this table, so it cannot name a different
extra than setup.py does (tests/runtime/test_device_install.py checks the table against
setup.py).
"""

from __future__ import annotations

import importlib.util

DISTRIBUTION = "edge-detect"

# top-level import name -> the setup.py extra that installs it
EXTRA_OF_MODULE: dict[str, str] = {
    "tensorflow": "train",
    "keras": "train",
    "tensorboard": "train",
    "tqdm": "train",
    "pycocotools": "eval",
    "matplotlib": "eval",
    "prometheus_client": "metrics",
    "cryptography": "signing",
}


def install_command(extra: str) -> str:
    """``pip install 'edge-detect[<extra>]'``, quoted for the shell (brackets are globs)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def extra_for(module: str | None) -> str | None:
    """The extra that installs ``module`` (dotted names go by their top level), or None
    when no extra does: then a missing module is a broken install or a bug, not a choice."""
    return EXTRA_OF_MODULE.get((module or "").split(".")[0])


def missing_modules(*modules: str) -> list[str]:
    """Those of the top-level ``modules`` that cannot be found here.

    Looks up without importing: `edge --help` asks about TensorFlow for every listing, and
    importing it takes seconds. A package that is found but broken still fails at its real
    import, with Python's own error."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # e.g. an import blocker on sys.meta_path
            found = False
        if not found:
            out.append(name)
    return out


def skipped_note(parts: list[str], modules: list[str]) -> str:
    """One line saying which outputs were skipped, which packages are missing and which
    extras bring them, e.g. ``mAP and plot skipped: pycocotools, matplotlib not installed
    (pip install 'edge-detect[eval]')``."""
    extras = sorted({EXTRA_OF_MODULE[m.split('.')[0]] for m in modules})  # KeyError: a bug
    return (f"{' and '.join(parts)} skipped: {', '.join(modules)} not installed "
            f"({'; '.join(install_command(x) for x in extras)})")
