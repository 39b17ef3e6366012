"""``convert_run``: the library call behind ``edge convert`` (the CLI only parses and reports)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from convert.calibration import load_calibration
from convert.edgetpu import EdgeTpuResult, check_edgetpu
from convert.metadata_writer import contract_for, embed_metadata
from convert.parity import ParityReport, load_validation, run_parity
from convert.postprocess import FusionSettings, check_fusable, fused_decoder_spec, make_fused_head
from convert.source import load_run
from convert.tflite import check_options, convert_keras
from edge.core.metadata import ModelMetadata

log = logging.getLogger(__name__)


class GateError(RuntimeError):
    """The converted model failed a gate (accuracy or Edge TPU); carries the full report."""

    def __init__(self, message: str, result: ConvertResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class ConvertOptions:
    quant: str = "int8"
    io: str | None = None
    calib_data: Path | None = None
    calib_count: int = 300
    fuse_postprocess: bool = False
    float_head: bool = False  # int8: the output head in float (CPU targets; tried on a parity failure)
    val_data: Path | None = None
    val_split: str | None = None
    parity: bool = True
    max_drop: float = 0.02
    edgetpu: bool = False
    edgetpu_out: Path | None = None
    edgetpu_segments: int | None = None
    min_tpu_ops: float = 0.95
    progress: bool = True


@dataclass
class ConvertResult:
    out: Path
    metadata: ModelMetadata
    size_bytes: int
    parity: ParityReport | None = None
    edgetpu: EdgeTpuResult | None = None
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        md = self.metadata
        w, h = md.input.size_wh
        lines = [f"wrote {self.out} ({self.size_bytes / 1024:.1f} KiB): "
                 f"{md.provenance.get('quantization')}, input {md.input.dtype} {w}x{h}, "
                 f"decoder {md.decoder.type}"]
        lines += self.notes
        if self.parity:
            lines.append(self.parity.text())
        if self.edgetpu:
            lines.append(self.edgetpu.text())
        return "\n".join(lines)


def _check_out(out: Path) -> None:
    if out.suffix != ".tflite":
        raise ValueError(f"--out {out}: expected a .tflite file name")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: directory {out.parent} does not exist (create it first)")


def _val_root(opts: ConvertOptions, md: ModelMetadata) -> Path | None:
    from edge.datasets.yolo import is_data_yaml

    if opts.val_data is not None:
        return opts.val_data
    for key in ("val_data", "dataset"):  # training may record where its data lives
        v = md.provenance.get(key)
        if isinstance(v, str) and (Path(v).is_dir() or is_data_yaml(Path(v))):
            return Path(v)
    return None


def convert_run(model: Path, out: Path, opts: ConvertOptions) -> ConvertResult:
    """Convert a run, embed the contract, prove parity, check the Edge TPU.

    Raises GateError (after writing ``<out>.rejected.tflite``) when a gate fails.
    """
    out = Path(out)
    _check_out(out)
    io = check_options(opts.quant, opts.io, opts.calib_data is not None)
    if not 0.0 <= opts.max_drop <= 1.0:
        raise ValueError(f"--max-drop must be in [0, 1], got {opts.max_drop}")
    if opts.float_head and (opts.quant != "int8" or opts.edgetpu or opts.fuse_postprocess):
        raise ValueError("--float-head needs --quant int8, and cannot go with --edgetpu (the Edge TPU "
                         "runs int8 ops only) or --fuse-postprocess")
    run = load_run(Path(model))
    trained = run.metadata
    val_root = _val_root(opts, trained) if opts.parity else None
    if opts.parity and val_root is None:
        raise ValueError("parity check needs the validation data: pass --val-data DATASET "
                         "(YOLO/VOC/COCO folder), or --no-parity to skip proving accuracy")
    dataset = load_validation(val_root, list(trained.labels), opts.val_split) if val_root else None
    calib = None
    if opts.quant == "int8":
        calib = load_calibration(opts.calib_data, trained.input, opts.calib_count, opts.progress)
    head, decoder = None, None
    if opts.fuse_postprocess:
        spec = check_fusable(trained.decoder)
        t = trained.thresholds
        head = make_fused_head(spec, len(trained.labels),
                               FusionSettings(t.max_detections, min(0.01, t.score), t.iou))
        decoder = fused_decoder_spec()
    result, failed = _convert_and_prove(run, out, opts, io, calib, head, decoder, dataset, val_root,
                                        float_head=opts.float_head)
    more = retry_calibration_count(opts, len(calib)) if failed and calib is not None else None
    if more is not None:
        # int8 ranges come from the calibration images: a wider sample is the first thing that
        # helps when the gate fails (rare inputs that the first sample clipped)
        first = f"{'; '.join(failed)} with {len(calib)} calibration images"
        log.info("parity failed (%s); retrying with %d calibration images", first, more)
        calib = load_calibration(opts.calib_data, trained.input, more, opts.progress)
        result, failed = _convert_and_prove(run, out, opts, io, calib, head, decoder, dataset, val_root,
                                            float_head=opts.float_head)
        result.notes.append(f"int8 retried: {first}; {len(calib)} images: "
                            f"{'; '.join(failed) if failed else 'passed'}")
    if failed and opts.quant == "int8" and not (opts.edgetpu or opts.float_head or head is not None):
        # next, the output head in float: box logits are where int8 steps cost IoU most
        # (bench/int8_where.py). The Edge TPU runs int8 only, so never for --edgetpu.
        first, earlier = "; ".join(failed), result.notes
        log.info("parity failed (%s); retrying with the output head in float", first)
        result, failed = _convert_and_prove(run, out, opts, io, calib, head, decoder, dataset, val_root,
                                            float_head=True)
        result.notes[:0] = earlier
        result.notes.append(f"int8 retried with the output head in float (float input/output): {first} "
                            f"before; now {'; '.join(failed) if failed else 'passed'}")
    tmp = out.with_name(out.stem + ".partial.tflite")
    if failed:
        raise _reject(tmp, out, failed, result)
    tmp.replace(out)
    if opts.edgetpu:  # compile the final file so the compiled name is <out stem>_edgetpu
        result.edgetpu = check_edgetpu(out, opts.edgetpu_out or out.parent, opts.edgetpu_segments,
                                       opts.min_tpu_ops)
        if not result.edgetpu.passed:
            raise _reject(out, out, [f"Edge TPU op share below --min-tpu-ops {opts.min_tpu_ops}"],
                          result)
    return result


def _convert_and_prove(run, out: Path, opts: ConvertOptions, io: str, calib, head, decoder, dataset,
                       val_root, float_head: bool = False) -> tuple[ConvertResult, list[str]]:
    """Convert, embed the contract, run parity; the model is left at ``<out>.partial.tflite``."""
    trained = run.metadata
    data = convert_keras(run.model, opts.quant, io, calib, head, float_head=float_head)
    prov = {"run": str(run.run_dir), "source_model": run.model_path.name,
            "io": "float" if float_head else io, "postprocess": "fused" if head is not None else "raw"}
    if float_head:
        prov["float_head"] = True
    if calib is not None:
        prov["calibration"] = {"data": str(opts.calib_data), "images": len(calib)}
    md = contract_for(trained, data, opts.quant, decoder, prov)
    tmp = out.with_name(out.stem + ".partial.tflite")
    tmp.write_bytes(embed_metadata(data, md))
    result = ConvertResult(out, md, tmp.stat().st_size)
    failed = []
    if dataset is not None:
        result.parity = run_parity(run.model, trained, tmp, dataset, opts.max_drop, progress=opts.progress)
        md = md.model_copy(update={"provenance": {**md.provenance, "validation": {
            "dataset": str(val_root), **result.parity.to_dict()}}})
        tmp.write_bytes(embed_metadata(data, md))
        result.metadata, result.size_bytes = md, tmp.stat().st_size
        if not result.parity.passed:
            failed.append(f"{' and '.join(result.parity.failures())} (> --max-drop {opts.max_drop})")
    else:
        result.notes.append("parity: skipped (--no-parity); accuracy of this model is unproven")
    return result, failed


RETRY_CALIBRATION_FACTOR = 4


def retry_calibration_count(opts: ConvertOptions, used: int) -> int | None:
    """How many calibration images a failed int8 conversion retries with (up to
    ``RETRY_CALIBRATION_FACTOR`` x ``used``), or None when the folder has no more."""
    if opts.calib_data is None:
        return None
    from convert.calibration import find_images

    available = len(find_images(opts.calib_data))
    return min(available, RETRY_CALIBRATION_FACTOR * used) if available > used else None


def _reject(path: Path, out: Path, failed: list[str], result: ConvertResult) -> GateError:
    rejected = out.with_name(out.stem + ".rejected.tflite")
    path.replace(rejected)
    result.out = rejected
    return GateError(f"conversion rejected: {'; '.join(failed)}; model kept at {rejected} "
                     "for inspection", result)
