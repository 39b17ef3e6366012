"""The embedded default: a small int8 shapes detector and a sample clip, both made by our
own pipeline (scripts/make_default_model.py regenerates them)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_DIR = Path(str(resources.files("edge.assets").joinpath("default")))
DEFAULT_MODEL = DEFAULT_DIR / "shapes_int8.tflite"
DEFAULT_CLIP = DEFAULT_DIR / "shapes.mp4"


def default_paths() -> tuple[Path, Path]:
    for p in (DEFAULT_MODEL, DEFAULT_CLIP):
        if not p.is_file():
            raise FileNotFoundError(f"embedded default missing: {p} (reinstall edge, or regenerate "
                                    "with python scripts/make_default_model.py)")
    return DEFAULT_MODEL, DEFAULT_CLIP
