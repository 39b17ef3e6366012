"""A real MJPEG-over-HTTP stream on loopback (what IP cameras serve), stoppable mid-stream."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


class MjpegServer:
    def __init__(self, port: int, size_wh=(320, 240), fps: float = 20.0, frame_fn=None) -> None:
        """frame_fn(seconds since start) -> BGR image of size_wh; default: flat grey levels."""
        self.port, self.size_wh, self.fps, self.frame_fn = port, size_wh, fps, frame_fn
        self.t_start = time.monotonic()
        self.frames_sent = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegServer:
        server = self
        self._stop.clear()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                w, h = server.size_wh
                try:
                    while not server._stop.is_set():
                        if server.frame_fn is not None:
                            img = server.frame_fn(time.monotonic() - server.t_start)
                        else:
                            img = np.full((h, w, 3), (server.frames_sent * 7) % 255, np.uint8)
                        ok, jpg = cv2.imencode(".jpg", img)
                        data = jpg.tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                        server.frames_sent += 1
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.daemon_threads = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
