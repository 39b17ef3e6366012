"""``edge``: the command line. Each command parses, calls one library function, and turns
domain errors into one-line messages. Workstation commands import TensorFlow lazily."""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edge import __version__
from edge.decoders.names import DECODER_NAMES
from edge.extras import extra_for, install_command, missing_modules

if TYPE_CHECKING:
    from edge.app import RunSettings

# command name -> "module:attribute"; imported only when that command runs, so the device
# (no TensorFlow) can use `edge run` and `edge --help` stays fast
LAZY_COMMANDS = {
    "train": ("train.cli:train_command", "Train a detector (tiny-YOLO, YOLO-nano, SSD) on a dataset."),
    "eval": ("edge.evaluation.cli:eval_command", "Score a model (mAP) on a labelled dataset."),
    "convert": ("convert.cli:convert_command", "Quantize a trained model to TFLite and prove it."),
    "inspect": ("edge.inspect:inspect_command", "Print a .tflite model's contract, I/O and ops."),
    "profile": ("edge.profile.cli:profile_command", "FPS vs accuracy of model variants on this box."),
    "doctor": ("edge.doctor:doctor_command", "Check this box: model, delegate, camera, broker, GPIO."),
    "bundle": ("edge.bundle:bundle_command", "Pack model + config + service into an installer."),
    "package": ("edge.fleet.cli:package_command", "Write a versioned, verifiable model package."),
    "model": ("edge.fleet.cli:model_group", "Install, list and roll back model versions on this box."),
}

# commands that can do nothing without an extra's package: they say which extra to install
# before parsing anything (--help included) instead of failing mid-run
COMMAND_NEEDS: dict[str, tuple[str, ...]] = {
    "train": ("tensorflow",),
    "convert": ("tensorflow",),
    "eval": ("pycocotools",),
}

# errors a user can fix; anything else is a bug and keeps its traceback
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, RuntimeError,
                                                 TimeoutError)

log = logging.getLogger(__name__)


def missing_extra_message(command: str, module: str | None) -> str | None:
    """The one line for ``edge <command>`` lacking ``module``, naming the extra that brings
    it; None when no extra does (a broken install or a bug: that keeps its traceback)."""
    extra = extra_for(module)
    if extra is None or module is None:
        return None
    return (f"`edge {command}` needs {module.split('.')[0]}, which this install lacks: "
            f"{install_command(extra)}")


def _unavailable_command(name: str, message: str) -> click.Command:
    """Stands in for a command that cannot load; any invocation, --help too, prints
    ``message`` and exits 1. `edge --help` lists ``message`` as its help."""

    @click.command(name=name, help=message, add_help_option=False,
                   context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def unavailable(args: tuple[str, ...]) -> None:
        raise click.ClickException(message)

    return unavailable


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in LAZY_COMMANDS:
            return None
        target, _ = LAZY_COMMANDS[name]
        lacking = missing_modules(*COMMAND_NEEDS.get(name, ()))
        if lacking:
            return _unavailable_command(name, missing_extra_message(name, lacking[0]) or "")
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError as e:
            message = (missing_extra_message(name, e.name)
                       or f"`edge {name}` is unavailable here: {e}")
            return _unavailable_command(name, message)

    def invoke(self, ctx: click.Context) -> object:
        # a command that imports an optional package only on some paths (e.g. `edge eval`
        # on a Keras model) ends here when it is missing: one line naming the extra
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as e:
            message = missing_extra_message(ctx.invoked_subcommand or "", e.name)
            if message is None:
                raise
            log.debug("%s", message, exc_info=True)  # -v keeps the traceback for a bug report
            raise click.ClickException(message) from e


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edge")
@click.option("-v", "--verbose", count=True, help="More log output (-v: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Object detection on Raspberry Pi and Coral boxes: train, convert, run, alert."""
    _setup_logging(verbose, quiet)


@cli.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Device YAML (firmware_configs/*.yaml); flags below override it.")
@click.option("--model", type=click.Path(path_type=Path), help=".tflite model.")
@click.option("--source", help="Camera index, /dev/videoN, picamera2, rtsp:// or http:// URL, "
              "video file, image, or image folder.")
@click.option("--labels", type=click.Path(path_type=Path),
              help="Labels (txt, one per line or 'id name'; or YAML names:). Default: model metadata.")
@click.option("--threads", type=click.IntRange(1, 64), help="Interpreter CPU threads.")
@click.option("--delegate", type=click.Choice(["cpu", "edgetpu"]), help="Accelerator.")
@click.option("--score", type=click.FloatRange(0, 1), help="Minimum score [default: metadata or 0.5].")
@click.option("--iou", type=click.FloatRange(0, 1), help="NMS IoU threshold [default: metadata or 0.5].")
@click.option("--max-detections", type=click.IntRange(1), help="Detections kept per frame.")
@click.option("--decoder", type=click.Choice(DECODER_NAMES),
              help="Override the output decoder (models without edge metadata).")
@click.option("--resize", type=click.Choice(["letterbox", "stretch"]), help="Override resize mode.")
@click.option("--interpolation", type=click.Choice(["bilinear", "area", "antialias"]),
              help="Override the resize filter.")
@click.option("--jsonl", help="Per-frame detections as JSON lines to this file ('-' = stdout, the "
              "default).")
@click.option("--text", is_flag=True, default=None,
              help="Readable lines on stdout instead of JSON (the default without --model).")
@click.option("--save", type=click.Path(path_type=Path),
              help="Annotated output: a video (.mp4/.avi) or a folder of JPEGs.")
@click.option("--max-frames", type=click.IntRange(1), help="Stop after N frames.")
@click.option("--latency-budget", "latency_budget_ms", type=click.FloatRange(min=0, min_open=True),
              help="Capture-to-output bound in ms; stale live frames are dropped.")
@click.option("--stats-interval", "stats_interval_s", type=click.FloatRange(min=0, min_open=True),
              help="Seconds between stats lines [default: 10].")
@click.option("--summary-json", is_flag=True,
              help="End with the stats as one JSON line ('summary {...}' on stderr) instead of "
              "the table.")
def run_command(config_path: Path | None, summary_json: bool, **flags) -> None:
    """Detect objects in a camera, stream, video or images.

    With no --model and no --config, runs the embedded default: the COCO SSD MobileNet v1
    (80 everyday classes: people, cats, dogs, cars...) on a bundled sample clip, or on
    --source.

    \b
    Examples:
      edge run                                   # the embedded default on its sample clip
      edge run --source 0                        # the embedded default on camera 0
      edge run --model detect.tflite --source 0
      edge run --model yolov5n-int8.tflite --labels coco.yaml --source clip.mp4 --save out.mp4
      edge run --config firmware_configs/pi5-coral.yaml
    """
    from edge.app import RunSettings, run

    try:
        if config_path is not None:
            from edge.config import load_config

            cfg = load_config(config_path)
            settings = RunSettings.from_config(cfg)
        elif flags["model"] is None:
            from edge.defaults import default_model, default_paths

            (model, labels), (_, clip) = default_model(), default_paths()
            click.echo(f"no --model: running the embedded default, COCO {model.name}, on "
                       f"{clip.name if flags['source'] is None else flags['source']}", err=True)
            settings = RunSettings(model=model, labels=labels, source=str(clip), text=True,
                                   stats_interval_s=2.0)
        else:
            if flags["source"] is None:
                raise click.UsageError("give --source (camera index, file, URL...) with --model")
            settings = RunSettings(model=flags["model"], source=flags["source"])
        settings = with_flags(settings, flags)
        if config_path is not None:
            from edge.alerts import build_alerts
            from edge.alerts.labels import check_rule_labels, model_labels

            # after the flags: a --model/--labels override is what the rules must match
            check_rule_labels(cfg.alerts.rules, model_labels(settings.model, settings.labels),
                              settings.model)
            alerts = build_alerts(cfg.alerts, cfg.device)
            from edge.fleet.supervisor import supervise, supervised

            if flags["model"] is None and supervised(cfg):
                # model swaps over MQTT / from the store: the alerts outlive each pipeline
                summary = supervise(cfg, settings, [alerts] if alerts is not None else [])
            else:
                if alerts is not None:
                    settings.extra_sinks.append(alerts)
                summary = run(settings)
        else:
            summary = run(settings)
    except click.ClickException:
        raise
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from e
    if summary_json:
        click.echo("summary " + json.dumps(summary), err=True)
    else:
        from edge.outputs.summary import format_summary

        click.echo(format_summary(summary), err=True)


def with_flags(settings: RunSettings, flags: dict[str, object]) -> RunSettings:
    """``settings`` with every given flag (not None) put in the field of the same name.

    Each flag's destination is a RunSettings field name, so a flag naming no field is a
    TypeError here (a bug), never a stray attribute the run ignores."""
    return dataclasses.replace(settings, **{k: v for k, v in flags.items() if v is not None})


def main() -> None:
    cli(prog_name="edge")


if __name__ == "__main__":
    main()
