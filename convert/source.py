"""A training run as conversion reads it: ``model.keras`` + ``model.edge.json`` (docs/contracts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.core.metadata import ModelMetadata, SsdDecoderSpec, YoloDecoderSpec, sidecar_path


class RunError(ValueError):
    """The run directory or Keras file cannot be converted; the message names the file."""


@dataclass
class KerasRun:
    """A loaded Keras model, its contract record, and where they came from."""

    model: Any  # keras.Model
    metadata: ModelMetadata
    model_path: Path
    run_dir: Path

    @property
    def input_wh(self) -> tuple[int, int]:
        return tuple(self.metadata.input.size_wh)  # type: ignore[return-value]

    def output_names(self) -> list[str]:
        return list(self.model.output_names)


def resolve_model_path(model: Path) -> Path:
    """``runs/x`` -> ``runs/x/model.keras``; a ``.keras`` file is taken as is."""
    if model.is_dir():
        path = model / "model.keras"
        if not path.exists():
            found = sorted(model.glob("*.keras"))
            if len(found) != 1:
                raise RunError(f"{model}: expected model.keras in the run directory "
                               f"(found {[p.name for p in found] or 'no .keras file'})")
            path = found[0]
        return path
    if not model.exists():
        raise RunError(f"{model}: no such run directory or Keras file")
    if model.suffix != ".keras":
        raise RunError(f"{model}: expected a run directory or a Keras 3 '.keras' file, "
                       f"got '{model.suffix or 'no suffix'}'")
    return model


def read_sidecar(model_path: Path) -> ModelMetadata:
    """The contract record next to the Keras file; errors say what training must write."""
    side = sidecar_path(model_path)
    if not side.exists():
        raise RunError(f"{model_path}: no model-contract record {side.name} next to it "
                       "(edge train writes it; a Keras file without it cannot be converted "
                       "because labels, input geometry and decoder are unknown)")
    try:
        return ModelMetadata.from_json(side.read_text())
    except ValueError as e:
        raise RunError(f"{side}: invalid model-contract record: {e}") from e


def _check_outputs(model: Any, md: ModelMetadata, path: Path) -> None:
    names = list(model.output_names)
    spec = md.decoder
    if isinstance(spec, SsdDecoderSpec):
        need = [spec.boxes_output or "boxes", spec.scores_output or "scores"]
        missing = [n for n in need if n not in names]
        if missing:
            raise RunError(f"{path}: SSD model must have outputs {need} (docs/contracts.md), "
                           f"has {names}")
    elif isinstance(spec, YoloDecoderSpec):
        if spec.layout not in ("grid", "ltrb"):
            raise RunError(f"{sidecar_path(path).name}: decoder.layout {spec.layout!r}; convert supports "
                           "our tiny-YOLO 'grid' and yolo-nano 'ltrb' layouts")
        want = len(spec.strides) if spec.layout == "grid" else 1
        if len(names) != want:
            raise RunError(f"{path}: {len(names)} outputs for a {spec.layout!r} model with strides "
                           f"{spec.strides} (expected {want})")
    else:
        raise RunError(f"{sidecar_path(path).name}: decoder.type {spec.type!r}; a Keras run "
                       "must be 'ssd' or 'yolo' (raw heads)")
    shape = tuple(model.inputs[0].shape[1:])
    w, h = md.input.size_wh
    if shape[:2] != (h, w):
        raise RunError(f"{path}: Keras input is {shape} but the record says size_wh {(w, h)}")


def load_run(model: Path) -> KerasRun:
    """Load ``model`` (run dir or .keras file) and its record; validates the contract."""
    path = resolve_model_path(Path(model))
    md = read_sidecar(path)
    try:  # the trainer's custom layers (if any) register themselves on import
        import train.models  # noqa: F401
    except ImportError:
        pass
    import keras

    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises many types; name the file
        raise RunError(f"{path}: Keras cannot load this model: {e}") from e
    _check_outputs(km, md, path)
    return KerasRun(km, md, path, path.parent)
