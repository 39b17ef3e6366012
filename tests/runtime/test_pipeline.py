"""The pipeline over real sources: video files written with OpenCV, a real MJPEG stream."""

import json
import threading
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli import cli
from edge.detector import Detector
from edge.outputs.jsonl import JsonlSink
from edge.pipeline import Pipeline, PipelineOptions
from edge.sources.base import SourceError
from edge.sources.capture import ReconnectPolicy
from edge.sources.factory import open_source
from tests.helpers.mjpeg_server import MjpegServer
from tests.helpers.net import free_port, wait_for

STAGES = {"capture_wait", "preprocess", "invoke", "decode", "nms", "latency"}


@pytest.fixture(scope="module")
def ssd(ssd_dir):
    return ssd_dir / "ssd_mobilenet_v1_coco_quant.tflite", ssd_dir / "labelmap.txt"


def write_video(path, image, n=24, size_wh=(640, 360), fps=12):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size_wh)
    for i in range(n):
        frame = np.full((size_wh[1], size_wh[0], 3), 90, np.uint8)
        frame[20:340, 60 + i:60 + i + 480] = cv2.resize(image, (480, 320))
        w.write(frame)
    w.release()


def test_video_file_runs_to_the_end_with_one_record_per_frame(ssd, ssd_dir, tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, cv2.imread(str(ssd_dir / "cat.bmp")))
    out, saved = tmp_path / "dets.jsonl", tmp_path / "annotated.mp4"
    res = CliRunner().invoke(cli, ["-q", "run", "--model", str(ssd[0]), "--labels", str(ssd[1]),
                                   "--source", str(video), "--jsonl", str(out), "--save", str(saved)])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(24))
    for r in records:
        assert set(r["timings_ms"]) >= STAGES and r["timings_ms"]["invoke"] > 0
        assert r["size_wh"] == [640, 360]
    assert sum(any(d["label"] == "cat" for d in r["detections"]) for r in records) >= 20
    cap = cv2.VideoCapture(str(saved))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    ok, frame = cap.read()
    assert ok and frame.shape == (360, 640, 3)
    summary = json.loads(res.stderr.split("summary ", 1)[1]) if "summary " in res.stderr else None
    assert summary is None or summary["frames"] == 24


def test_max_frames_and_stats(ssd, ssd_dir, tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, cv2.imread(str(ssd_dir / "cat.bmp")), n=30)
    det = Detector.load(*ssd)
    p = Pipeline(det, open_source(video), [], PipelineOptions(max_frames=7))
    s = p.run()
    assert s["frames"] == 7 and s["fps"] > 0
    for stage in ("preprocess", "invoke", "decode", "nms", "total"):
        v = s["stages"][stage]
        assert 0 <= v["p50"] <= v["p95"] <= v["p99"]


def run_in_thread(pipeline):
    result = {}

    def target():
        try:
            result["summary"] = pipeline.run()
        except Exception as e:  # noqa: BLE001 - the test inspects it
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result




@pytest.mark.slow
def test_stream_that_drops_is_reconnected(ssd, tmp_path):
    port = free_port()
    server = MjpegServer(port).start()
    out = tmp_path / "dets.jsonl"
    sink = JsonlSink(out)
    p = Pipeline(Detector.load(*ssd), open_source(server.url), [sink],
                 PipelineOptions(reconnect=ReconnectPolicy(initial_s=0.2, max_s=1.0)))
    t, result = run_in_thread(p)
    try:
        assert wait_for(lambda: p.stats.frames >= 5)
        server.stop()  # the camera goes away mid-run
        time.sleep(1.5)
        before = p.stats.frames
        server = MjpegServer(port).start()  # ...and comes back
        assert wait_for(lambda: p.capture.stats.reconnects >= 1)
        assert wait_for(lambda: p.stats.frames >= before + 5)
    finally:
        p.stop()
        server.stop()
        t.join(10)
    assert "error" not in result and result["summary"]["capture"]["reconnects"] >= 1
    assert len(out.read_text().splitlines()) == result["summary"]["frames"]


def test_stream_that_never_returns_ends_with_clear_message(ssd):
    server = MjpegServer(free_port()).start()
    p = Pipeline(Detector.load(*ssd), open_source(server.url), [],
                 PipelineOptions(reconnect=ReconnectPolicy(initial_s=0.05, max_s=0.1, max_attempts=3)))
    t, result = run_in_thread(p)
    assert wait_for(lambda: p.stats.frames >= 3)
    server.stop()
    t.join(20)
    err = result.get("error")
    assert isinstance(err, SourceError)
    assert "did not come back after 3 reconnect attempts" in str(err) and server.url in str(err)


def test_latency_budget_drops_stale_live_frames(ssd):
    server = MjpegServer(free_port()).start()
    try:
        p = Pipeline(Detector.load(*ssd), open_source(server.url), [],
                     PipelineOptions(latency_budget_ms=1e-6, max_frames=10))
        s = p.run()
    finally:
        server.stop()
    # every live frame is older than a 1 ns budget by the time it is taken: none processed
    assert s["frames"] == 0 and s["dropped_stale"] == 10


class Collect:
    def __init__(self):
        self.results = []

    def handle(self, result):
        self.results.append(result)

    def close(self):
        pass


def test_preprocess_on_capture_thread_gives_the_same_detections(ssd, ssd_dir, tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, cv2.imread(str(ssd_dir / "cat.bmp")), n=12)
    det = Detector.load(*ssd)
    runs = {}
    for on_capture in (True, False):
        sink = Collect()
        Pipeline(det, open_source(video), [sink],
                 PipelineOptions(preprocess_on_capture=on_capture)).run()
        runs[on_capture] = sink.results
    assert len(runs[True]) == len(runs[False]) == 12
    for a, b in zip(runs[True], runs[False], strict=True):
        assert a.frame.prepared is not None and b.frame.prepared is None
        assert a.timings_ms["preprocess"] > 0 and b.timings_ms["preprocess"] > 0
        np.testing.assert_array_equal(a.detections.xyxy, b.detections.xyxy)
        np.testing.assert_array_equal(a.detections.class_ids, b.detections.class_ids)
        np.testing.assert_array_equal(a.detections.scores, b.detections.scores)
    assert sum("cat" in r.detections.label_names for r in runs[True]) >= 10


class GrayThenColour:
    """Two frames: a (H, W) image preprocess must reject, then a normal one."""

    is_live = False
    fps = 10.0
    name = "gray-then-colour"

    def __init__(self, image):
        self.frames = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), image]

    def open(self):
        pass

    def read(self):
        return self.frames.pop(0) if self.frames else None

    def close(self):
        pass


def test_frame_that_preprocess_rejects_fails_loudly_with_capture_preprocessing(ssd, ssd_dir):
    # the capture thread cannot make an input from it; the pipeline thread retries and the
    # error reaches the caller with preprocess's own message, as without the overlap
    det = Detector.load(*ssd)
    p = Pipeline(det, GrayThenColour(cv2.imread(str(ssd_dir / "cat.bmp"))), [],
                 PipelineOptions(preprocess_on_capture=True))
    with pytest.raises(ValueError, match=r"expected a BGR image of shape \(H, W, 3\)"):
        p.run()
