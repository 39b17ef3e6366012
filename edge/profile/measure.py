"""Measure one model variant the way the device runs it: accuracy, latency per stage,
FPS (image loop and, optionally, a video through the capture thread), size, peak RSS."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.detector import Detector, LoadOptions

# edge eval and edge profile score at the same operating point, so their mAPs agree
from edge.evaluation.cli import EVAL_MAX_DETECTIONS, EVAL_SCORE

log = logging.getLogger(__name__)


@dataclass
class VariantSpec:
    model: Path
    threads: int | None = None
    delegate: str = "cpu"

    @property
    def name(self) -> str:
        t = f"t{self.threads}" if self.threads else "tdefault"
        return f"{self.model.stem} [{self.delegate},{t}]"


@dataclass
class VariantResult:
    name: str
    model: str
    threads: int | None
    delegate: str
    ok: bool = True
    error: str = ""
    size_mb: float = 0.0
    peak_rss_mb: float = 0.0
    quantization: str = ""
    input_wh: tuple[int, int] | None = None
    decoder: str = ""
    map50: float | None = None
    map: float | None = None
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    fps: float | None = None
    fps_std: float | None = None
    video_fps: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _reset_peak_rss() -> None:
    try:  # Linux: writing 5 resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stage_stats(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for stage in ("preprocess", "invoke", "decode_nms", "end_to_end"):
        v = np.array([s[stage] for s in samples])
        out[stage] = {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
                      "mean": float(v.mean()), "std": float(v.std())}
    return out


def measure_variant(spec: VariantSpec, dataset, aliases: dict[str, str] | None = None,
                    labels: Path | None = None,
                    repeats: int = 3, warmup: int = 3, latency_images: int = 20,
                    video: Path | None = None, video_frames: int = 100,
                    progress: bool = True, score: bool = True) -> VariantResult:
    """Everything for one variant; a failure fills ``error`` instead of raising.

    ``score=False`` leaves ``map50``/``map`` None (no pycocotools on a device install): the
    variant is still timed."""
    from edge.evaluation.evaluate import evaluate_detector, read_bgr
    from edge.evaluation.labels import match_labels, model_class_labels, scored_pair

    res = VariantResult(spec.name, str(spec.model), spec.threads, spec.delegate)
    try:
        res.size_mb = spec.model.stat().st_size / 2**20
        _reset_peak_rss()
        det = Detector.load(spec.model, options=LoadOptions(
            labels=labels, threads=spec.threads, delegate=spec.delegate, score=EVAL_SCORE,
            max_detections=EVAL_MAX_DETECTIONS))
        res.input_wh = det.input_wh
        res.decoder = det.decoder.name
        res.quantization = (det.metadata.provenance.get("quantization", "") if det.metadata else "") \
            or det.layout.dtype
        if score:
            match = match_labels(model_class_labels(det), list(dataset.labels), aliases)
            if match is not None and match.note():
                log.warning("%s: %s", spec.name, match.note())
            detect, scored = scored_pair(det.detect, dataset, match)
            result = evaluate_detector(detect, scored, progress=progress)
            res.map50, res.map = result.map50, result.map
        images = [read_bgr(s.image_path) for s in dataset.samples[:latency_images]]
        for img in images[:1] * warmup:
            det.detect(img)
        samples, per_rep_fps = [], []
        for _ in range(repeats):
            t_rep = time.perf_counter()
            for img in images:
                t0 = time.perf_counter()
                _, t = det.detect_with_timings(img)
                samples.append({"preprocess": t["preprocess"], "invoke": t["invoke"],
                                "decode_nms": t["decode"] + t["nms"],
                                "end_to_end": (time.perf_counter() - t0) * 1e3})
            per_rep_fps.append(len(images) / (time.perf_counter() - t_rep))
        res.latency_ms = _stage_stats(samples)
        res.fps, res.fps_std = float(np.mean(per_rep_fps)), float(np.std(per_rep_fps))
        if video is not None:
            from edge.pipeline import Pipeline, PipelineOptions
            from edge.sources.factory import open_source

            s = Pipeline(det, open_source(video), [], PipelineOptions(
                max_frames=video_frames, stats_interval_s=1e9)).run()
            res.video_fps = s["fps"]
        res.peak_rss_mb = _peak_rss_mb()
    except Exception as e:  # noqa: BLE001 - one bad model must not hide the others' rows
        res.ok, res.error = False, f"{type(e).__name__}: {e}"
        log.error("%s: %s", spec.name, res.error)
    return res
