"""``edge profile``: which model variant should this box run?"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from edge.extras import install_command, missing_modules, skipped_note
from edge.profile.measure import VariantSpec, measure_variant
from edge.profile.report import (
    missing_variant_hints,
    plot,
    recommend,
    table,
    write_csv,
    write_json,
)

log = logging.getLogger(__name__)


def _int_list(ctx, param, value: str | None) -> list[int | None]:
    if not value:
        return [None]
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated thread counts like 1,2,4, got {value!r}") from None


def _delegates(ctx, param, value: str) -> list[str]:
    out = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in out if v not in ("cpu", "edgetpu")]
    if bad:
        raise click.BadParameter(f"delegates must be cpu or edgetpu, got {bad}")
    return out


def _aliases(ctx, param, value: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in value:
        if "=" not in v:
            raise click.BadParameter(f"expected MODEL_LABEL=DATASET_LABEL, got {v!r}")
        a, b = v.split("=", 1)
        out[a.strip()] = b.strip()
    return out


def load_eval_split(data: Path, split: str | None, names: str | None, max_images: int | None):
    from edge.datasets.load import available_splits, load_split
    from edge.evaluation.cli import default_eval_split

    if split is None:  # the split `edge eval` would score
        have = available_splits(data)
        split = default_eval_split(have) or (have[0] if have else "all")
    ds = load_split(data, split, names=names)
    if max_images is not None and len(ds) > max_images:
        import numpy as np

        ds = ds.subset(np.arange(max_images), split)
    return ds


def profile_models(models: list[Path], data: Path, out: Path, threads: list[int | None],
                   delegates: list[str], source: Path | None = None, split: str | None = None,
                   names: str | None = None, aliases: dict[str, str] | None = None,
                   labels: Path | None = None,
                   min_fps: float | None = None, min_map: float | None = None,
                   repeats: int = 3, max_images: int | None = None, progress: bool = True) -> dict:
    """Measure every (model, threads, delegate); write CSV/JSON/PNG into ``out``.

    Without pycocotools the variants are timed but not scored (mAP None), and without
    matplotlib there is no PNG; ``skipped`` in the answer is the one line that says so."""
    no_map, no_plot = missing_modules("pycocotools"), missing_modules("matplotlib")
    if no_map and min_map is not None:
        raise ValueError(f"--min-map needs mAP, which needs pycocotools: {install_command('eval')}")
    if not out.is_dir():
        out.mkdir(parents=True)
    ds = load_eval_split(data, split, names, max_images)
    specs = [VariantSpec(m, t, d) for m in models for d in delegates for t in threads]
    rows = []
    for i, spec in enumerate(specs, 1):
        log.info("[%d/%d] profiling %s", i, len(specs), spec.name)
        if progress:
            click.echo(f"[{i}/{len(specs)}] {spec.name}", err=True)
        rows.append(measure_variant(spec, ds, aliases, labels, repeats=repeats, video=source,
                                    progress=progress, score=not no_map))
    pick, why = recommend(rows, min_fps, min_map)
    rec = {"variant": pick.name if pick else None, "reason": why}
    written = [out / "profile.csv", out / "profile.json"]
    write_csv(rows, written[0])
    write_json(rows, written[1], rec)
    if not no_plot:
        written.append(plot(rows, out / "profile.png", pick))
    parts = (["mAP"] if no_map else []) + (["plot"] if no_plot else [])
    return {"rows": rows, "recommendation": rec, "hints": missing_variant_hints(rows),
            "dataset": f"{data} ({ds.name}, {len(ds)} images)", "written": written,
            "skipped": skipped_note(parts, no_map + no_plot) if parts else None}


@click.command("profile")
@click.option("--models", "models", type=click.Path(path_type=Path), multiple=True, required=True,
              help="A .tflite variant; repeat the option or list several after it.")
@click.argument("more_models", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Labelled validation data (YOLO, VOC or COCO folder, or a YOLO data.yaml).")
@click.option("--split", help="Split to score (default: val, valid, test, else all).")
@click.option("--names", help="Class names for YOLO data without data.yaml (a,b,c or a file).")
@click.option("--threads", callback=_int_list, help="Thread counts to sweep, e.g. 1,2,4.")
@click.option("--delegate", "delegates", default="cpu", show_default=True, callback=_delegates,
              help="Delegates to sweep: cpu,edgetpu.")
@click.option("--source", type=click.Path(path_type=Path),
              help="A video: also measure end-to-end FPS with the capture thread.")
@click.option("--labels", type=click.Path(path_type=Path),
              help="Labels for models without edge metadata (matched to the data's by name).")
@click.option("--map-label", "aliases", multiple=True, callback=_aliases,
              help="Count a model label as a dataset label, e.g. teddy bear=raccoon.")
@click.option("--min-fps", type=float, help="Recommend the most accurate variant at this FPS.")
@click.option("--min-map", type=float, help="Recommend the fastest variant at this mAP@0.5.")
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True,
              help="Timed passes over the latency images (variance is shown).")
@click.option("--max-images", type=click.IntRange(1), help="Score at most N images.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("profile_out"), show_default=True,
              help="Folder for profile.csv, profile.json and profile.png (with matplotlib).")
def profile_command(models, more_models, data, split, names, threads, delegates, source, labels, aliases,
                    min_fps, min_map, repeats, max_images, out) -> None:
    """FPS vs accuracy of model variants on this box, with a recommendation.

    Each variant is scored (mAP@0.5, mAP@[.5:.95]) through the same decode path as
    `edge run`, and timed per stage (warm-up excluded, several repetitions). The mAP
    columns need pycocotools and profile.png matplotlib (pip install 'edge-detect[eval]');
    without them the variants are only timed, and the output says so.

    \b
    Example:
      edge profile --models m_fp32.tflite m_int8.tflite --data data/val --threads 1,4 --min-fps 10
    """
    paths = list(models) + list(more_models)
    if min_fps is not None and min_map is not None:
        raise click.UsageError("give --min-fps or --min-map, not both")
    try:
        res = profile_models(paths, data, out, threads, delegates, source, split, names, aliases,
                             labels, min_fps, min_map, repeats, max_images)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"dataset: {res['dataset']}")
    click.echo(table(res["rows"]))
    rec = res["recommendation"]
    click.echo(f"\nrecommended: {rec['variant'] or 'none'} ({rec['reason']})")
    for hint in res["hints"]:
        click.echo(f"missing variant: {hint}")
    if res["skipped"]:
        click.echo(res["skipped"])
    click.echo(f"wrote {', '.join(str(p) for p in res['written'])}")
    failed = [r for r in res["rows"] if not r.ok]
    if failed and len(failed) == len(res["rows"]):  # a table of failures is not a profile
        raise click.ClickException("every variant failed: " + "; ".join(f"{r.name}: {r.error}"
                                                                          for r in failed))
