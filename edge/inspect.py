"""``edge inspect model.tflite``: what a model is, without TensorFlow (runs on the device).

Prints our model-contract record (or, for foreign models, the TFLite Support metadata and
the labels packed in its associated-file zip), inputs and outputs with quantization, the
op histogram and the file size. Everything comes from the flatbuffer via
``edge.core.tflite_file``; no interpreter is created.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import click

from edge.core.metadata import METADATA_NAME, read_metadata
from edge.core.tflite_file import ModelFileError, TensorInfo, TfliteFile, read_tflite

TFLITE_SUPPORT_NAME = "TFLITE_METADATA"
LABEL_SUFFIXES = (".txt", ".labels")


@dataclass
class SupportMetadata:
    """The parts of a TFLite Support ``ModelMetadata`` flatbuffer worth printing."""

    name: str = ""
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    associated_files: dict[str, list[str]] = field(default_factory=dict)  # file -> lines


def _fb_strings(buf: bytes, fields: dict[str, int]) -> dict[str, str]:
    """Top-level string fields of a flatbuffer table (metadata_schema.fbs numbering)."""
    from flatbuffers import table

    root = struct.unpack_from("<I", buf, 0)[0]
    t = table.Table(bytearray(buf), root)
    out = {}
    for key, no in fields.items():
        o = t.Offset(4 + 2 * no)
        out[key] = t.String(o + t.Pos).decode("utf-8", "replace") if o else ""
    return out


def read_support_metadata(f: TfliteFile) -> SupportMetadata | None:
    """TFLite Support metadata + label files from the zip appended to the model, if any."""
    raw = f.metadata.get(TFLITE_SUPPORT_NAME)
    if raw is None:
        return None
    md = SupportMetadata()
    try:
        s = _fb_strings(raw, {"name": 0, "description": 1, "version": 2, "author": 4, "license": 5})
        md.name, md.description, md.version = s["name"], s["description"], s["version"]
        md.author, md.license = s["author"], s["license"]
    except (struct.error, IndexError):
        md.description = f"(unreadable {TFLITE_SUPPORT_NAME} record)"
    if f.path is not None:
        try:  # associated files are a zip appended to the flatbuffer
            with zipfile.ZipFile(f.path) as z:
                for name in z.namelist():
                    if name.lower().endswith(LABEL_SUFFIXES):
                        text = z.read(name).decode("utf-8", "replace")
                        md.associated_files[name] = [ln for ln in text.splitlines() if ln.strip()]
        except zipfile.BadZipFile:
            pass
    return md


def _quant(t: TensorInfo) -> str:
    if not t.scale.size:
        return "-"
    if t.scale.size == 1:
        zp = int(t.zero_point[0]) if t.zero_point.size else 0
        return f"scale {float(t.scale[0]):.6g} zero_point {zp}"
    return f"per-channel ({t.scale.size} scales)"


def _runtime_shapes(path: Path) -> dict[int, tuple[int, ...]]:
    """Shapes after allocation, for outputs the file leaves unshaped (custom ops such as
    TFLite_Detection_PostProcess). Empty when no interpreter is installed or it fails."""
    try:
        from edge.backends.runtime import interpreter_module

        _, mod = interpreter_module()
        it = mod.Interpreter(model_path=str(path))
        it.allocate_tensors()
        return {int(d["index"]): tuple(int(v) for v in d["shape"])
                for d in it.get_input_details() + it.get_output_details()}
    except Exception:  # noqa: BLE001 - inspect must still print what the file says
        return {}


def _tensor_rows(f: TfliteFile, indices: tuple[int, ...], shapes: dict[int, tuple[int, ...]]) -> list[str]:
    rows = []
    for i in indices:
        t = f.tensors[i]
        shape = t.shape if t.shape else shapes.get(i, t.shape)
        rows.append(f"  {t.name:<36} {str(list(shape)):<18} {t.dtype:<8} {_quant(t)}")
    return rows


def describe(path: Path) -> str:
    """The full text ``edge inspect`` prints."""
    f = read_tflite(path)
    lines = [f"{path}  {f.size_bytes / 1024:.1f} KiB, {len(f.operators)} ops, "
             f"{len(f.tensors)} tensors"]
    ours = read_metadata(f)
    if ours is not None:
        lines.append(f"model contract ({METADATA_NAME}):")
        record = json.loads(ours.to_json())
        anchors = record.get("decoder", {}).get("anchors_cxcywh")
        if anchors:  # thousands of numbers; the count is what a reader needs
            record["decoder"]["anchors_cxcywh"] = f"<{len(anchors)} anchors>"
        lines += [f"  {k}: {json.dumps(v)}" for k, v in record.items()]
    else:
        support = read_support_metadata(f)
        if support is not None:
            lines.append(f"TFLite Support metadata: {support.name or '(unnamed)'}"
                         f"{', version ' + support.version if support.version else ''}")
            for key in ("description", "author", "license"):
                v = getattr(support, key)
                if v:
                    lines.append(f"  {key}: {v}")
            for name, labels in support.associated_files.items():
                shown = ", ".join(labels[:20]) + (f", ... ({len(labels)} labels)" if len(labels) > 20 else "")
                lines.append(f"  labels ({name}, {len(labels)}): {shown}")
        else:
            lines.append("no metadata record: a foreign model; `edge run` identifies its outputs "
                         "by shape (see --decoder / --labels)")
        others = [k for k in f.metadata if k not in (TFLITE_SUPPORT_NAME,)]
        if others:
            lines.append(f"other metadata entries: {', '.join(others)}")
    shapes = _runtime_shapes(path) if any(not f.tensors[i].shape for i in f.outputs) else {}
    lines.append("inputs:")
    lines += _tensor_rows(f, f.inputs, shapes)
    lines.append("outputs:")
    lines += _tensor_rows(f, f.outputs, shapes)
    lines.append("ops:")
    lines += [f"  {name:<32} {n}" for name, n in f.op_histogram().items()]
    return "\n".join(lines)


EXAMPLES = """
\b
Examples:
  edge inspect door-int8.tflite          # contract, I/O, quantization, ops, size
  edge inspect door-int8.tflite --json   # only the edge metadata record
"""


@click.command("inspect", epilog=EXAMPLES)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print only our contract record as JSON.")
def inspect_command(model: Path, as_json: bool) -> None:
    """Print a .tflite model's contract, inputs/outputs, quantization, ops and size."""
    try:
        if as_json:
            md = read_metadata(model)
            if md is None:
                raise click.ClickException(f"{model}: has no {METADATA_NAME} record")
            click.echo(json.dumps(json.loads(md.to_json()), indent=2))
            return
        click.echo(describe(model))
    except (ModelFileError, ValueError) as e:
        raise click.ClickException(str(e)) from e


__all__ = ["describe", "inspect_command", "read_support_metadata"]
