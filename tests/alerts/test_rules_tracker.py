"""Rules, zones, tracker and the event lifecycle, fed FrameResults directly."""

import numpy as np

from edge.alerts.config import RuleConfig
from edge.alerts.engine import RuleEngine
from edge.alerts.rules import RuleFilter, points_in_polygon
from edge.alerts.tracker import IouTracker
from tests.alerts.conftest import Clock

DOOR = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]


def rule(**kw) -> RuleConfig:
    base = dict(name="r", labels=["raccoon"], min_score=0.5, min_frames=3, end_after_frames=5,
                cooldown_s=0, update_interval_s=1.0)
    return RuleConfig(**{**base, **kw})


def run(engine, clock, frames):
    """frames: list of (boxes, labels[, scores]); returns all messages."""
    out = []
    for f in frames:
        out += engine.step(*_split(clock.result(*f)))
    return out


def _split(res):
    return res.frame, res.detections


def test_zone_uses_bottom_centre_by_default():
    f = RuleFilter(rule(labels=["person"], zone=DOOR))
    c = Clock()
    # head inside the zone but feet above it -> out; feet inside -> in; feet left of zone -> out
    dets = c.result([[0.4, 0.1, 0.6, 0.45], [0.4, 0.2, 0.6, 0.7], [0.0, 0.6, 0.1, 0.9]],
                    ["person"] * 3).detections
    assert f.mask(dets).tolist() == [False, True, False]
    # the same person by box centre (y 0.45) is outside the zone
    centre = RuleFilter(rule(labels=["person"], zone=DOOR, zone_anchor="center"))
    assert centre.mask(dets).tolist() == [False, False, False]
    # box touching the frame bottom sits on the zone's bottom edge: inside
    edge = c.result([[0.3, 0.7, 0.5, 1.0]], ["person"]).detections
    assert f.mask(edge).tolist() == [True]


def test_points_in_concave_polygon():
    poly = np.array([[0, 0], [1, 0], [1, 1], [0.5, 0.4], [0, 1]], float)  # a V notch at top
    pts = np.array([[0.5, 0.2], [0.5, 0.8], [0.1, 0.8], [0.9, 0.8]])
    assert points_in_polygon(pts, poly).tolist() == [True, False, True, True]


def test_label_and_score_filter():
    f = RuleFilter(rule(labels=["cat", "dog"], min_score=0.6))
    dets = Clock().result([[0, 0, .2, .2]] * 4, ["cat", "dog", "person", "cat"],
                          [0.7, 0.9, 0.9, 0.5]).detections
    assert f.mask(dets).tolist() == [True, True, False, False]


def test_one_raccoon_walking_is_one_event_not_thirty():
    c, eng = Clock(fps=10), RuleEngine(rule(), "dev")
    frames = [([[0.1 + 0.01 * i, 0.4, 0.3 + 0.01 * i, 0.7]], ["raccoon"]) for i in range(30)]
    msgs = run(eng, c, frames + [([], [])] * 6)
    phases = [m.phase for m in msgs]
    assert phases.count("start") == 1 and phases.count("end") == 1
    assert phases[0] == "start" and phases[-1] == "end"
    assert len({m.id for m in msgs}) == 1
    assert [m.seq for m in msgs] == list(range(len(msgs)))
    start, end = msgs[0], msgs[-1]
    assert start.frame_index == 2  # min_frames=3 -> third frame
    assert end.end_reason == "gone" and end.frame_count == 30
    assert end.end_time == start.start_time + 29 / 10  # last seen on frame 29
    # updates: box moves a little each frame; rate limit 1 s at 10 FPS over 3 s of event
    assert 1 <= phases.count("update") <= 3


def test_two_objects_two_events_and_flicker_does_not_restart():
    c, eng = Clock(), RuleEngine(rule(), "dev")
    a, b = [0.05, 0.1, 0.25, 0.4], [0.6, 0.5, 0.9, 0.9]
    frames = [([a, b], ["raccoon"] * 2)] * 5 + [([a], ["raccoon"])] * 2 + [([a, b], ["raccoon"] * 2)] * 5
    msgs = run(eng, c, frames)
    starts = [m for m in msgs if m.phase == "start"]
    assert len(starts) == 2 and starts[0].id != starts[1].id
    assert not [m for m in msgs if m.phase == "end"]  # b missed 2 < 5 frames: same event


def test_min_frames_must_be_consecutive():
    c, eng = Clock(), RuleEngine(rule(min_frames=3), "dev")
    box = [[0.2, 0.2, 0.4, 0.5]]
    msgs = run(eng, c, [(box, ["raccoon"]), (box, ["raccoon"]), ([], []), (box, ["raccoon"]),
                        (box, ["raccoon"])])
    assert msgs == []
    msgs = run(eng, c, [(box, ["raccoon"])])
    assert [m.phase for m in msgs] == ["start"]


def test_cooldown_delays_the_next_event_until_it_expires():
    c, eng = Clock(fps=10), RuleEngine(rule(cooldown_s=2.0, min_frames=1, end_after_frames=2), "dev")
    box = [[0.2, 0.2, 0.4, 0.5]]
    msgs = run(eng, c, [(box, ["raccoon"])] * 3 + [([], [])] * 2)
    assert [m.phase for m in msgs if m.phase != "update"] == ["start", "end"]
    # back 0.1 s after the end: no start while cooling down (2 s = 20 frames) ...
    msgs = run(eng, c, [(box, ["raccoon"])] * 15)
    assert msgs == []
    # ... but a persistent object is reported once the cooldown is over
    msgs = run(eng, c, [(box, ["raccoon"])] * 10)
    assert [m.phase for m in msgs] == ["start"]


def test_max_event_length_ends_and_does_not_restart_for_same_object():
    c, eng = Clock(fps=10), RuleEngine(rule(min_frames=1, max_event_s=1.0, update_interval_s=100), "dev")
    box = [[0.2, 0.2, 0.4, 0.5]]
    msgs = run(eng, c, [(box, ["raccoon"])] * 40)
    assert [(m.phase, m.end_reason) for m in msgs] == [("start", None), ("end", "max_duration")]


def test_best_score_and_box_kept_for_end_and_shutdown_closes_events():
    c, eng = Clock(), RuleEngine(rule(min_frames=1, update_interval_s=100), "dev")
    boxes = [[0.2, 0.2, 0.4, 0.5], [0.21, 0.2, 0.41, 0.5], [0.22, 0.2, 0.42, 0.5]]
    msgs = []
    for bx, s in zip(boxes, [0.6, 0.95, 0.7]):
        msgs += eng.step(*_split(c.result([bx], ["raccoon"], [s])))
    msgs += eng.close(None)
    end = msgs[-1]
    assert end.phase == "end" and end.end_reason == "shutdown"
    assert abs(end.best_score - 0.95) < 1e-6 and np.allclose(end.best_box, boxes[1])
    assert abs(end.score - 0.7) < 1e-6


def test_tracker_does_not_link_different_labels():
    t = IouTracker(0.3, min_hits=1, max_misses=3)
    t.update(np.array([[0.1, 0.1, 0.5, 0.5]]), np.array([0.9]), ["cat"])
    t.update(np.array([[0.1, 0.1, 0.5, 0.5]]), np.array([0.9]), ["dog"])
    assert sorted(tr.label for tr in t.tracks) == ["cat", "dog"]


def test_event_payload_has_pixel_and_normalized_boxes():
    c, eng = Clock(size_wh=(640, 480)), RuleEngine(rule(min_frames=1), "door-cam")
    (m,) = eng.step(*_split(c.result([[0.25, 0.5, 0.5, 1.0]], ["raccoon"], [0.8])))
    d = m.to_dict()
    assert d["box"] == [0.25, 0.5, 0.5, 1.0] and d["box_px"] == [160.0, 240.0, 320.0, 480.0]
    assert d["device"] == "door-cam" and d["phase"] == "start" and d["seq"] == 0
    assert d["frame_size_wh"] == [640, 480] and d["end_time"] is None
