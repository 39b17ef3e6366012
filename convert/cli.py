"""``edge convert``: parse options, call ``convert.pipeline.convert_run``, print the report."""

from __future__ import annotations

from pathlib import Path

import click

from convert.tflite import IO_TYPES, QUANT_MODES

EXAMPLES = """
\b
Examples:
  edge convert --model runs/door --quant int8 --calib-data datasets/door \\
      --val-data datasets/door --out door-int8.tflite
  edge convert --model runs/door --quant fp16 --out door-fp16.tflite --no-parity
  edge convert --model runs/door --quant int8 --calib-data datasets/door --val-data datasets/door \\
      --edgetpu --out door.tflite
"""


@click.command("convert", epilog=EXAMPLES)
@click.option("--model", required=True, type=click.Path(path_type=Path),
              help="Training run directory (model.keras + model.edge.json) or a .keras file.")
@click.option("--quant", type=click.Choice(QUANT_MODES), default="int8", show_default=True,
              help="fp32, fp16 weights, dynamic-range int8 weights, or full int8.")
@click.option("--calib-data", type=click.Path(path_type=Path),
              help="Folder of calibration images (int8), searched recursively, or a YOLO "
              "data.yaml (its val images, else train).")
@click.option("--calib-count", type=int, default=300, show_default=True)
@click.option("--io", "io", type=click.Choice(IO_TYPES), default=None,
              help="int8 models: input/output type (default uint8, what the Edge TPU and Frigate "
              "feed). int8 drops the uint8<->int8 QUANTIZE ops: ~7 % faster invoke on an x86 CPU.")
@click.option("--fuse-postprocess", is_flag=True,
              help="SSD: put TFLite_Detection_PostProcess (decode + NMS) inside the model.")
@click.option("--float-head", is_flag=True,
              help="int8 for CPUs: keep the output head in float (float input/output). Tried by "
              "itself when full int8 fails the parity gate, unless --edgetpu.")
@click.option("--val-data", type=click.Path(path_type=Path),
              help="Dataset (YOLO/VOC/COCO folder or YOLO data.yaml) whose validation split "
              "proves parity.")
@click.option("--val-split", default=None, help="Split name (default: val, else test).")
@click.option("--no-parity", is_flag=True, help="Skip the float-vs-converted accuracy check.")
@click.option("--max-drop", type=float, default=0.02, show_default=True,
              help="Fail when mAP@0.5 or mAP@[.5:.95] drops more than this from the float model.")
@click.option("--edgetpu", is_flag=True, help="Compile for the Edge TPU (pre-check always runs).")
@click.option("--edgetpu-out", type=click.Path(path_type=Path),
              help="Output directory of the compiled model (default: next to --out).")
@click.option("--edgetpu-segments", type=int, default=None,
              help="Split the compiled model into N segments for pipelining.")
@click.option("--min-tpu-ops", type=float, default=0.95, show_default=True,
              help="Fail when a smaller share of ops maps to the Edge TPU.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output .tflite.")
def convert_command(model: Path, quant: str, calib_data: Path | None, calib_count: int,
                    io: str | None, fuse_postprocess: bool, float_head: bool, val_data: Path | None,
                    val_split: str | None, no_parity: bool, max_drop: float, edgetpu: bool,
                    edgetpu_out: Path | None, edgetpu_segments: int | None, min_tpu_ops: float,
                    out: Path) -> None:
    """Quantize a trained model to TFLite, embed its contract, and prove accuracy held."""
    from convert.pipeline import ConvertOptions, GateError, convert_run

    opts = ConvertOptions(quant=quant, io=io, calib_data=calib_data, calib_count=calib_count,
                          fuse_postprocess=fuse_postprocess, float_head=float_head, val_data=val_data,
                          val_split=val_split,
                          parity=not no_parity, max_drop=max_drop, edgetpu=edgetpu,
                          edgetpu_out=edgetpu_out, edgetpu_segments=edgetpu_segments,
                          min_tpu_ops=min_tpu_ops)
    try:
        result = convert_run(model, out, opts)
    except GateError as e:
        click.echo(e.result.text())
        raise click.ClickException(str(e)) from e
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(result.text())
