"""A real chat-completions server for tests, on 127.0.0.1 at a free port.

It speaks enough of the OpenAI protocol for the ``openai`` client
(POST /v1/chat/completions, JSON answers and error bodies in OpenAI's
format), decodes the PNG in every request and finds the highlighted part:
the orange pixels of the highlight panel (x < image height, see the layout
in core/naming.py). Given the expected mask of each part (rendered by the
test from the camera core.naming chose), it answers with the name of the part
whose mask the orange pixels match best, so a correct name proves a correct
highlight. Requests without orange pixels are object questions.

Modes (``mode`` for every part request, ``part_modes`` per part name):
normal, slow (sleeps past the client's timeout), garbage (a sentence instead
of a name), 429 (rate limit, Retry-After: 0), refusal (OpenAI's refusal
field), unauthorized (401 whose message echoes part of the key, as OpenAI's
does), echo (400 whose message carries the whole key, as some proxies' do),
not_json (200 with an HTML page, as a wrong base URL gives), outside_once
(a name outside the allowed set, then the right one once told so).

Test meshes must be untextured (grey): a saturated object color would look
like highlight.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

MODES = ("normal", "slow", "garbage", "429", "refusal", "unauthorized", "echo", "not_json",
         "outside_once")


def orange_pixels(image: np.ndarray) -> np.ndarray:
    """(H, H) bool: the tinted pixels of the highlight panel of a composed image.

    image : (H, W, 3) uint8, W > H; the highlight panel is x in [0, H)
    """
    panel = image[:, : image.shape[0]].astype(np.int32)
    r, g, b = panel[..., 0], panel[..., 1], panel[..., 2]
    return (r - b > 60) & (r >= g) & (g >= b)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


@dataclass
class Recorded:
    """One request as the server saw it."""

    kind: str
    """'object' (no highlight) or 'part'."""
    part: str | None
    """Name of the part whose mask matched best ('part' requests)."""
    iou: float
    """IoU of the orange pixels with that part's mask."""
    mask: np.ndarray | None
    """(H, H) bool orange pixels."""
    texts: list
    """Text contents of the messages, in order."""
    image_size: tuple
    authorization: str
    mode: str
    started: float
    finished: float = 0.0


@dataclass
class FakeLLM:
    """The server; use as a context manager. ``base_url`` ends in /v1."""

    part_masks: dict = field(default_factory=dict)
    """part name -> (H, H) bool expected highlight (tests render it)."""
    object_name: str = "table"
    mode: str = "normal"
    part_modes: dict = field(default_factory=dict)
    delay: float = 0.05
    """Seconds every normal answer takes, so that requests overlap."""
    slow_seconds: float = 3.0
    echo_key: str = ""
    """What the 401 message echoes (the test's key) in 'unauthorized' mode."""

    def __post_init__(self):
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def part_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "part"]

    # ------------------------------------------------------------- protocol

    def _answer(self, body: dict, headers) -> tuple[int, dict, dict | bytes]:
        """(status, extra headers, JSON body or raw bytes) for one request."""
        texts, images = [], []
        for message in body["messages"]:
            content = message["content"]
            for item in [content] if isinstance(content, str) else content:
                if isinstance(item, str) or item.get("type") == "text":
                    texts.append(item if isinstance(item, str) else item["text"])
                elif item.get("type") == "image_url":
                    url = item["image_url"]["url"]
                    prefix = "data:image/png;base64,"
                    assert url.startswith(prefix), "the image must be a base64 PNG data URL"
                    png = Image.open(io.BytesIO(base64.b64decode(url[len(prefix):])))
                    assert png.format == "PNG"
                    images.append(np.asarray(png.convert("RGB")))
        assert len(images) == 1, f"expected one image, got {len(images)}"
        image = images[0]
        mask = orange_pixels(image)
        # the question says which it is (an object's own colors can look orange)
        asks_part = any("highlighted" in t for t in texts)
        record = Recorded(kind="part" if asks_part else "object", part=None, iou=0.0,
                          mask=mask, texts=texts, image_size=image.shape[:2],
                          authorization=headers.get("Authorization", ""), mode="normal",
                          started=time.monotonic())
        if record.kind == "part" and self.part_masks:
            scores = {name: iou(mask, m) for name, m in self.part_masks.items()}
            record.part = max(scores, key=scores.get)
            record.iou = scores[record.part]
        if record.kind == "part":
            record.mode = self.part_modes.get(record.part, self.mode)
        with self._lock:
            self.requests.append(record)
        try:
            return self._reply(record, body["model"])
        finally:
            record.finished = time.monotonic()

    def _reply(self, record: Recorded, model: str) -> tuple[int, dict, dict | bytes]:
        mode = record.mode
        if mode == "not_json":
            return 200, {"Content-Type": "application/json"}, b"<html>It works!</html>"
        if mode == "429":
            return 429, {"retry-after": "0"}, _error(
                "Rate limit reached for requests. Please try again in 1s.", "requests",
                "rate_limit_exceeded")
        if mode == "unauthorized":
            echoed = self.echo_key[:6] + "*" * 20 + self.echo_key[-4:]
            return 401, {}, _error(f"Incorrect API key provided: {echoed}. You can find your "
                                   "API key at https://platform.openai.com/account/api-keys.",
                                   "invalid_request_error", "invalid_api_key")
        if mode == "echo":
            return 400, {}, _error(f"Invalid header 'Authorization: Bearer {self.echo_key}'",
                                   "invalid_request_error", "bad_header")
        if mode == "slow":
            self._stop.wait(self.slow_seconds)
        else:
            self._stop.wait(self.delay)
        if mode == "refusal":
            return 200, {}, _completion(model, None, refusal="I'm sorry, I can't help with that.")
        if mode == "garbage":
            return 200, {}, _completion(
                model, "Sure! The highlighted region appears to be a leg: it holds up the top.")
        if record.kind == "object":
            return 200, {}, _completion(model, self.object_name)
        if mode == "outside_once" and not any("is not one of the allowed" in t for t in record.texts):
            return 200, {}, _completion(model, "gizmo")
        if record.part is None or record.iou < 0.5:
            return 200, {}, _completion(model, "unknown part")
        return 200, {}, _completion(model, record.part)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if self.path.rstrip("/") != "/v1/chat/completions":
                        self._send(404, {}, _error(f"no route {self.path}", "invalid_request_error",
                                                   "not_found"))
                        return
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length))
                    self._send(*fake._answer(body, self.headers))
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def _send(self, status: int, headers: dict, payload: dict | bytes) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                headers = {"Content-Type": "application/json", **headers}
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
                pass

        return Handler


def _completion(model: str, content: str | None, refusal: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 3, "total_tokens": 103},
    }


def _error(message: str, kind: str, code: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
