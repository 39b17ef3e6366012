"""``edge eval``: score a .tflite (through the device runtime) or a Keras model on a dataset.

TensorFlow is imported only for Keras models, so devices can evaluate .tflite files.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.datasets.types import ON_ERROR
from edge.extras import install_command, missing_modules, skipped_note

# The operating point every mAP in this project is scored at: `edge eval`, `edge profile`
# and `edge convert`'s parity check use these, so their figures for one file agree.
EVAL_SCORE = 0.01  # low, as mAP needs the whole PR curve
EVAL_MAX_DETECTIONS = 100
EVAL_SPLITS = ("val", "valid", "test", "all", "train")  # the first one a dataset has is scored


def default_eval_split(splits: list[str]) -> str | None:
    """The split ``edge eval`` and ``edge profile`` score when none is given."""
    return next((s for s in EVAL_SPLITS if s in splits), None)


def _detector(model: Path, score: float, iou: float | None, labels: Path | None):
    if model.suffix == ".tflite":
        from edge.detector import Detector

        return Detector.load(model, labels=labels, score=score, iou=iou,
                             max_detections=EVAL_MAX_DETECTIONS), "tflite"
    if model.is_dir() or model.suffix == ".keras":
        try:
            from train.keras_detector import KerasDetector
        except ImportError as e:
            raise click.ClickException(f"{model}: Keras models need TensorFlow "
                                       f"({install_command('train')}): {e}") from e
        return KerasDetector.load(model, score=score, iou=iou, max_detections=EVAL_MAX_DETECTIONS), "keras"
    raise click.ClickException(f"--model {model}: expected a .tflite file, a .keras file or a run folder")


def check_has_ground_truth(ds, data: Path, split: str) -> None:
    """Stop when no box is left to score: pycocotools would answer mAP -1 and AP nan, which
    reads like a score, not like the labels matching nothing."""
    if not any(len(s.class_ids) for s in ds.samples):
        raise ValueError(f"{data} [{split}]: no ground-truth box of the labels {list(ds.labels)} in "
                         f"{len(ds)} image(s), so mAP is undefined; do the annotation class ids and "
                         "names match these labels? (see the report above)")


EXAMPLES = """
\b
Examples:
  edge eval --model runs/door/door-int8.tflite --data datasets/door --out eval/
  edge eval --model runs/door --data datasets/door/data.yaml --split test
  edge eval --model ssd_mobilenet_v1_coco_quant.tflite --labels labelmap.txt --data pets/
"""


@click.command("eval", epilog=EXAMPLES)
@click.option("--model", required=True, type=click.Path(path_type=Path, exists=True),
              help=".tflite, model.keras, or a training run folder.")
@click.option("--data", required=True, type=click.Path(path_type=Path, exists=True),
              help="Dataset folder or a YOLO data.yaml.")
@click.option("--split", default=None, help="Split to score (default: the first of "
              f"{'/'.join(EVAL_SPLITS)} the dataset has).")
@click.option("--format", "fmt", type=click.Choice(["yolo", "voc", "coco"]), default=None)
@click.option("--names", default=None, help="Class names file or a,b,c (YOLO without data.yaml); "
              "default: the model's labels.")
@click.option("--labels", type=click.Path(path_type=Path, exists=True), default=None,
              help="Labels for a .tflite without edge metadata (e.g. a COCO labelmap.txt).")
@click.option("--on-error", type=click.Choice(ON_ERROR), default="skip", show_default=True)
@click.option("--score", type=float, default=EVAL_SCORE, show_default=True,
              help="Score threshold (low, so the PR curve is complete).")
@click.option("--iou", type=float, default=None, help="NMS IoU (default: the model's).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for metrics.json and pr_curves.png (with matplotlib).")
@click.option("--limit", type=int, default=None, help="Score only the first N images.")
def eval_command(model: Path, data: Path, split: str | None, fmt: str | None, names: str | None,
                 labels: Path | None, on_error: str, score: float, iou: float | None, out: Path | None,
                 limit: int | None) -> None:
    """Score MODEL on DATA with pycocotools: mAP@[.5:.95], mAP@0.5, per-class AP, PR curves.

    Model and dataset classes are paired by name; only the classes both have are scored
    (e.g. a COCO model on a cat/dog dataset), and the others are listed."""
    from edge.datasets import available_splits, load_split, report_text
    from edge.datasets.load import names_own_classes
    from edge.evaluation.evaluate import evaluate_detector
    from edge.evaluation.labels import match_labels, model_class_labels, scored_pair

    try:
        splits = available_splits(data, fmt)
        split = split or default_eval_split(splits)
        if split is None:
            raise ValueError(f"{data}: no split to evaluate among {splits}; pass --split")
        det, kind = _detector(model, score, iou, labels)
        model_labels = model_class_labels(det)
        # the dataset's own names, so classes pair by name; the model's only when it has none
        own = names_own_classes(data, fmt)
        ds = load_split(data, split, fmt, names or (None if own else model_labels), on_error)
        if limit:
            ds = ds.subset(range(min(limit, len(ds))), ds.name)
        click.echo(report_text(ds), err=True)
        match = match_labels(model_labels, list(ds.labels))
        if match is not None and match.note():
            click.echo(f"labels: {match.note()}", err=True)
        detect, scored = scored_pair(det.detect, ds, match)
        check_has_ground_truth(scored, data, split)
        result = evaluate_detector(detect, scored)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{model} ({kind}) on {data} [{split}]")
    click.echo(result.summary())
    if out is not None:
        from edge.evaluation.plots import save_pr_curves

        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({"model": str(model), "data": str(data), "split": split,
                                                      **result.to_dict()}, indent=2))
        written = [out / "metrics.json"]
        no_plot = missing_modules("matplotlib")
        if no_plot:  # the numbers are the result; the curves are a picture of them
            click.echo(skipped_note(["PR curves"], no_plot))
        else:
            written.append(save_pr_curves(result, out / "pr_curves.png",
                                          f"{model.name} on {data.name} [{split}]"))
        click.echo(f"wrote {' and '.join(str(p) for p in written)}")
