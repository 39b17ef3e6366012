"""The embedded default that ``edge run`` uses without --model: the Apache-2.0 COCO SSD
MobileNet v1 (uint8, 300x300, fused post-process; 90 COCO classes: people, cats, dogs,
cars...) with its labels, and a 6 s sample clip of its test images (cats and dogs, a cat,
Grace Hopper). ``scripts/make_coco_sample.py`` makes ``assets/coco/`` from the published
model; licence: ``assets/coco/LICENSE``.

Also kept: the small int8 shapes detector made by our own pipeline
(``scripts/make_default_model.py``), which tests use as a model of our own format.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

COCO_DIR = Path(str(resources.files("edge.assets").joinpath("coco")))
COCO_MODEL = COCO_DIR / "ssd_mobilenet_v1_coco_quant.tflite"
COCO_LABELS = COCO_DIR / "labelmap.txt"
COCO_SAMPLE = COCO_DIR / "sample.mp4"

SHAPES_DIR = Path(str(resources.files("edge.assets").joinpath("default")))
SHAPES_MODEL = SHAPES_DIR / "shapes_int8.tflite"
SHAPES_CLIP = SHAPES_DIR / "shapes.mp4"


def _present(*paths: Path) -> None:
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"embedded default missing: {p} (reinstall edge; from a "
                                    "source tree: python scripts/make_coco_sample.py)")


def default_model() -> tuple[Path, Path]:
    """(model, labels) of the embedded default: what ``edge run`` uses without --model."""
    _present(COCO_MODEL, COCO_LABELS)
    return COCO_MODEL, COCO_LABELS


def default_paths() -> tuple[Path, Path]:
    """(model, sample clip) of the embedded default; labels: ``default_model()``."""
    _present(COCO_MODEL, COCO_SAMPLE)
    return COCO_MODEL, COCO_SAMPLE


def shapes_paths() -> tuple[Path, Path]:
    """(model, clip) of the small shapes detector (our own metadata, labels inside)."""
    _present(SHAPES_MODEL, SHAPES_CLIP)
    return SHAPES_MODEL, SHAPES_CLIP
