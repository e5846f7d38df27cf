"""Name parts with a multimodal LLM (SAMPart3D stage 3, DESIGN.md step 10).

The object is rendered once from a fixed set of canonical orbit views. For
each part, the view where it covers the most pixels is highlighted (the part
tinted orange with a dark outline, the rest greyed out) and composed with two
unhighlighted context views into one PNG, which is sent to an
OpenAI-compatible chat-completions endpoint with a request for a short name.
One request about the whole object goes first, and its answer is given to
every part request, so that names agree with each other ("wheel" on a car).

Composed image layout, for a panel size ``R`` (default 384)::

    +-----------+---+---------+
    |           |   |context 1|   x in [0, R): the highlighted view
    | highlight | | +---------+   x in [R + GAP, R + GAP + R/2): two context
    |           |   |context 2|   views of the whole object, R/2 square
    +-----------+---+---------+

The API key (``OPENAI_API_KEY``) is read when naming starts. It is never
logged, never stored in the cache, and never put in a NameResult or an
exception message: server error text is passed through ``redact`` first.
A server that is not api.openai.com (vLLM, Ollama, ...) may be used without a
key; the client then sends the placeholder key ``EMPTY``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from .files import atomic_write
from .loading import Asset
from .rendering import Camera, Renderer, View
from .settings import Settings

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"
"""Sent as the key to a non-OpenAI server when OPENAI_API_KEY is unset."""
RESOLUTION = 384
"""Width and height of each canonical view in pixels."""
FOV_DEG = 39.6
"""Field of view of the canonical views (as in the reference renders)."""
GAP = 8
"""Pixels between the highlight panel and the context column."""
TINT = np.array([255, 140, 0], np.float32)
"""Orange laid over the part in the highlight panel."""
OUTLINE = (20, 20, 20)
"""Color of the outline drawn just outside the part."""
OUTLINE_WIDTH = 2
"""Outline thickness in pixels."""
RETRIES = 1
"""Extra attempts after a rate limit (429), a server error (5xx) or a lost connection."""
MAX_RETRY_WAIT = 10.0
"""Longest wait in seconds before a retry, whatever Retry-After says."""
CACHE_VERSION = 1
"""Part of every cache key: bump when prompts or images change."""

SYSTEM_PROMPT = (
    "You name 3D objects and their parts from rendered images. Answer with a short "
    "name only: 1 to 5 words of letters, digits, spaces or hyphens, no punctuation, "
    "no explanation.")
OBJECT_PROMPT = (
    "The large panel and the two small panels show one 3D object from three angles. "
    "What is this object? Answer with its short name only.")
PART_PROMPT = (
    "The large panel shows a 3D object with one part highlighted in orange and outlined "
    "in black; the rest of the object is greyed out. The two small panels show the whole "
    "object from other angles. What is the highlighted part called? Answer with the "
    "part's short name only.")
LABEL_PROMPT = (
    "Choose the name of the highlighted part from this list of allowed names: {names}. "
    "Answer with one name from the list, exactly as written.")
LABEL_REMINDER = (
    "'{answer}' is not one of the allowed names. Answer with exactly one of: {names}.")
HOW_TO_ENABLE = (
    "Part naming needs a multimodal LLM: set OPENAI_API_KEY to use OpenAI, or set "
    "OPENAI_BASE_URL to an OpenAI-compatible server (vLLM, Ollama, ...; no key needed "
    "there); PARTSCOPE_LLM_MODEL picks the model (default gpt-4o).")


@dataclass(frozen=True)
class NameResult:
    """The outcome for one part: exactly one of ``name`` and ``error`` is set.

    name : str or None, lowercase, 1-5 words of letters, digits, spaces, hyphens
    error : str or None, one sentence for a person
    """

    name: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.name is not None


class NamingUnavailable(RuntimeError):
    """Naming cannot start (no key, no client); the message says how to enable it."""


class MalformedAnswer(ValueError):
    """The model's answer is not a short name."""


class OutsideLabelSet(MalformedAnswer):
    """The model's answer is not one of the allowed names."""


class Refusal(ValueError):
    """The model declined to answer."""


class NotACompletion(ValueError):
    """The server's answer is not a chat completion (not JSON, no choices)."""


# ----------------------------------------------------------------- settings


def endpoint(settings: Settings) -> str:
    """The chat-completions base URL in use: OPENAI_BASE_URL or OpenAI's."""
    return (settings.openai_base_url or OPENAI_URL).rstrip("/")


def is_openai(base_url: str) -> bool:
    """True when ``base_url`` is OpenAI's own API (which always needs a key)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "openai.com" or host.endswith(".openai.com")


def naming_unavailable_reason(settings: Settings) -> str | None:
    """None when naming can start, else a sentence saying how to enable it."""
    if settings.openai_api_key is None and is_openai(endpoint(settings)):
        return HOW_TO_ENABLE
    return None


def _api_key(settings: Settings) -> str:
    reason = naming_unavailable_reason(settings)
    if reason is not None:
        raise NamingUnavailable(reason)
    return settings.openai_api_key or PLACEHOLDER_KEY


def _display_url(url: str) -> str:
    """``url`` without user:password, for logs and messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


_MASKED = re.compile(r"\S*\*{3,}\S*|\bsk-[\w\-*]+")
_WORDS = re.compile(r"[\w\-]{4,}")


def redact(text: str, secret: str | None) -> str:
    """``text`` with the secret, key-like tokens and fragments of the secret removed.

    Servers echo keys in error messages ("Incorrect API key provided:
    sk-ab****wxyz"): the whole key, any masked token, any ``sk-`` token and
    any run of 4+ word characters that is a piece of the secret become
    ``[redacted]``.
    """
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _MASKED.sub("[redacted]", text)
    if secret and len(secret) >= 8:
        text = _WORDS.sub(lambda m: "[redacted]" if m.group(0) in secret else m.group(0), text)
    return text


# ------------------------------------------------------------------ images


def canonical_cameras(asset: Asset, resolution: int = RESOLUTION) -> list[Camera]:
    """12 orbit cameras that see the whole normalized object.

    Views 0-7: azimuths 0, 45, ..., 315 deg at elevations alternating 25/40
    deg (the upper ring); views 8-11: azimuths 45, 135, 225, 315 deg at -30
    deg (from below). The distance fits the object's bounding sphere in the
    frame.
    """
    radius = float(np.linalg.norm(asset.mesh.vertices, axis=1).max())
    distance = 1.05 * radius / np.sin(np.radians(FOV_DEG / 2))
    upper = [Camera.orbit(45.0 * k, 25.0 if k % 2 == 0 else 40.0, distance, FOV_DEG, resolution)
             for k in range(8)]
    lower = [Camera.orbit(45.0 + 90.0 * k, -30.0, distance, FOV_DEG, resolution) for k in range(4)]
    return upper + lower


def highlight(color: np.ndarray, part: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Tint a part orange, outline it, and grey out the rest of the object.

    color : (H, W, 3) uint8 shaded render
    part : (H, W) bool pixels of the part
    foreground : (H, W) bool pixels of the object (the background stays as is)
    returns (H, W, 3) uint8. The part keeps its shading and 30% of its color;
    the outline (OUTLINE_WIDTH px, just outside the part) is dark grey, so the
    only saturated pixels are the part's.
    """
    rgb = color.astype(np.float32)
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    out = rgb.copy()
    rest = foreground & ~part
    out[rest] = (0.35 * lum[rest] + 0.65 * 235.0)[:, None]
    shade = 0.5 + 0.5 * lum[part] / 255.0
    out[part] = 0.3 * rgb[part] + 0.7 * TINT * shade[:, None]
    ring = ndimage.binary_dilation(part, np.ones((3, 3), bool), iterations=OUTLINE_WIDTH) & ~part
    out[ring] = OUTLINE
    return np.clip(out, 0, 255).astype(np.uint8)


def compose(main: np.ndarray, context: list[np.ndarray]) -> Image.Image:
    """Lay out a main panel and up to two context panels (see the module doc).

    main : (R, R, 3) uint8
    context : list of (R, R, 3) uint8, shown at half size, stacked
    returns an RGB image of size (R + GAP + R // 2, R), white background
    """
    size = main.shape[0]
    half = size // 2
    canvas = Image.new("RGB", (size + GAP + half, size), (255, 255, 255))
    canvas.paste(Image.fromarray(main), (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.line([(size + GAP // 2, 0), (size + GAP // 2, size)], fill=(170, 170, 170), width=2)
    for k, panel in enumerate(context[:2]):
        small = Image.fromarray(panel).resize((half, half), Image.LANCZOS)
        canvas.paste(small, (size + GAP, k * half))
    if len(context) > 1:
        draw.line([(size + GAP, half), (size + GAP + half, half)], fill=(170, 170, 170), width=1)
    return canvas


def context_views(cameras: list[Camera], index: int, n_upper: int = 8) -> list[int]:
    """Two upper-ring views that complement view ``index``: the one looking
    most nearly from the opposite side, then the one most nearly at a right
    angle to it."""
    back = np.stack([c.rotation[:, 2] for c in cameras])
    cos = back[:n_upper] @ back[index]
    candidates = [i for i in range(n_upper) if i != index]
    opposite = min(candidates, key=lambda i: cos[i])
    side = min((i for i in candidates if i != opposite), key=lambda i: abs(cos[i]))
    return [opposite, side]


def image_data_url(image: Image.Image) -> str:
    """A PNG data URL (base64) of ``image``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_canonical(asset: Asset, resolution: int = RESOLUTION) -> list[View]:
    """Render the ``canonical_cameras`` views of an object with one Renderer.

    returns list of 12 View, each (resolution, resolution); they depend on
    the object only, so one set serves every labelling of it.
    """
    start = time.perf_counter()
    renderer = Renderer(asset)
    views = [renderer.render(c) for c in canonical_cameras(asset, resolution)]
    log.info("rendered %d naming views of %s in %.2f s", len(views), asset.name,
             time.perf_counter() - start)
    return views


class CanonicalViews:
    """The canonical renders of one object with its parts, made once and
    reused for every part.

    views : list of View from ``render_canonical``
    labels : (V, H, W) int32, part id per pixel, -1 background or deleted face
    coverage : (V, P) int64, pixels of part p in view v (P = max label + 1)
    """

    OBJECT_VIEW = 1
    """The view (azimuth 45 deg, elevation 40 deg) that leads the object image."""

    def __init__(self, views: list[View], face_labels: np.ndarray):
        face_labels = np.asarray(face_labels)
        self.views = views
        self.cameras = [v.camera for v in views]
        faces = np.stack([v.face for v in views])
        if faces.max() >= len(face_labels):
            raise ValueError("the views show faces beyond face_labels: they are of another object")
        self.labels = np.where(faces >= 0, face_labels[np.maximum(faces, 0)], -1).astype(np.int32)
        n_parts = int(face_labels.max(initial=-1)) + 1
        flat = self.labels.reshape(len(views), -1)
        self.coverage = np.stack([np.bincount(row[row >= 0], minlength=n_parts) for row in flat])

    def best_view(self, part_id: int) -> int | None:
        """Index of the view where the part covers the most pixels (first on a
        tie), or None when no view sees it."""
        if part_id >= self.coverage.shape[1] or self.coverage[:, part_id].max() == 0:
            return None
        return int(self.coverage[:, part_id].argmax())

    def camera(self, part_id: int) -> Camera | None:
        """The camera of the highlight panel for ``part_id`` (None if unseen)."""
        index = self.best_view(part_id)
        return None if index is None else self.cameras[index]

    def part_image(self, part_id: int) -> Image.Image:
        """The composed image for one part; ValueError when no view sees it."""
        index = self.best_view(part_id)
        if index is None:
            raise ValueError(f"part {part_id} is not visible in any canonical view")
        view = self.views[index]
        main = highlight(view.color, self.labels[index] == part_id, view.face >= 0)
        return compose(main, [self.views[i].color for i in context_views(self.cameras, index)])

    def object_image(self) -> Image.Image:
        """The composed image of the whole object, nothing highlighted."""
        index = self.OBJECT_VIEW
        return compose(self.views[index].color,
                       [self.views[i].color for i in context_views(self.cameras, index)])


# ----------------------------------------------------------------- answers

_NAME = re.compile(r"[^\W_]+(?:-[^\W_]+)*(?: [^\W_]+(?:-[^\W_]+)*){0,4}")
_REFUSAL = re.compile(r"^(i'?m sorry|i am sorry|sorry|i can'?t|i cannot|i'?m unable|i am unable)\b")
MAX_NAME_CHARS = 60


def parse_name(text: str | None) -> str:
    """The short name in a model's answer, lowercased, or MalformedAnswer.

    Accepted: 1 to 5 words of letters and digits, joined by single spaces or
    hyphens, at most 60 characters. Only surrounding whitespace, one pair of
    surrounding quotes and one trailing period are forgiven; anything else
    (a sentence, a colon, a list, markdown) is malformed. Answers that start
    like an apology ("I'm sorry, ...") raise Refusal.
    """
    if not text or not text.strip():
        raise MalformedAnswer("the answer was empty")
    answer = " ".join(text.split()).lower()
    if _REFUSAL.match(answer):
        raise Refusal(answer)
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1].strip()
    if answer.endswith("."):
        answer = answer[:-1].rstrip()
    if len(answer) > MAX_NAME_CHARS or not _NAME.fullmatch(answer):
        raise MalformedAnswer(answer)
    return answer


def _label_key(text: str) -> str:
    """How names are compared: lowercase, '_' and '-' as spaces, one space."""
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def match_label(text: str | None, labels) -> str:
    """The allowed name the model's answer is, or OutsideLabelSet.

    Compared without case, with '_', '-' and runs of spaces as one space, and
    an 's' of a plural forgiven ('Legs' is 'leg'); one pair of surrounding
    quotes and a trailing period (inside or outside them) are forgiven. Apologies
    raise Refusal. returns the name as written in ``labels``.
    """
    if not text or not text.strip():
        raise MalformedAnswer("the answer was empty")
    answer = " ".join(text.split())
    if _REFUSAL.match(answer.lower()):
        raise Refusal(answer)
    answer = answer.rstrip(".").strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1].strip().rstrip(".").strip()
    key = _label_key(answer)
    for candidate in (key, key[:-1] if key.endswith("s") else None, key + "s"):
        for label in labels:
            if candidate and _label_key(label) == candidate:
                return label
    raise OutsideLabelSet(answer)


def _label_list(labels) -> str:
    return ", ".join(f'"{label}"' for label in labels)


def _snippet(text: str, key: str | None, limit: int = 60) -> str:
    text = redact(" ".join(str(text).split()), key)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _ask(client, model: str, prompt: str, image_url: str, labels=None) -> str:
    """One chat completion with one image (a data URL); the parsed name, or
    raises. With ``labels`` (allowed names) the answer must be one of them:
    an answer outside the set is pointed out once, in the same conversation."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]},
    ]
    if labels is None:
        return parse_name(_complete(client, model, messages))
    content = _complete(client, model, messages)
    try:
        return match_label(content, labels)
    except OutsideLabelSet as exc:
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": LABEL_REMINDER.format(
                         answer=_snippet(exc, None), names=_label_list(labels))}]
    return match_label(_complete(client, model, messages), labels)


def _complete(client, model: str, messages: list) -> str | None:
    """The text of one chat completion, or raises NotACompletion / Refusal."""
    try:
        response = client.chat.completions.create(model=model, messages=messages)
    except json.JSONDecodeError as exc:
        raise NotACompletion("its body is not JSON") from exc
    choices = getattr(response, "choices", None)
    message = getattr(choices[0], "message", None) if choices else None
    if message is None:
        raise NotACompletion("it has no message")
    if getattr(message, "refusal", None) or choices[0].finish_reason == "content_filter":
        raise Refusal("refused")
    return message.content


def _server_message(exc) -> str:
    """The server's own error text of an openai APIStatusError (unredacted)."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return re.sub(r"^Error code: \d+ - ", "", str(exc.message))


def _retry_wait(exc) -> float:
    """Seconds to wait before retrying after ``exc`` (Retry-After, capped)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_WAIT)
    except (TypeError, ValueError):
        return 1.0


def _ask_safely(client, model: str, prompt: str, image: Image.Image, *, key: str | None,
                timeout: float, url: str, labels=None) -> NameResult:
    """``_ask`` with retries for transient failures; every failure becomes a
    NameResult with a sentence (redacted), never an exception."""
    import openai

    image_url = image_data_url(image)
    for attempt in range(RETRIES + 1):
        last = attempt == RETRIES
        try:
            return NameResult(name=_ask(client, model, prompt, image_url, labels))
        except Refusal:
            return NameResult(error="The model declined to name this part.")
        except OutsideLabelSet as exc:
            return NameResult(error=f"The model's answer '{_snippet(exc, key)}' is not one of "
                                    "the allowed names, also when asked again.")
        except MalformedAnswer as exc:
            return NameResult(error=f"The model's answer was not a short name: "
                                    f"'{_snippet(exc, key)}'.")
        except NotACompletion as exc:
            return NameResult(error=f"The answer from {_display_url(url)} is not a chat "
                                    f"completion ({exc}): is OPENAI_BASE_URL an OpenAI-compatible "
                                    "endpoint (usually ending in /v1)?")
        except openai.APITimeoutError:
            return NameResult(error=f"The model server did not answer within {timeout:g} s; "
                                    "try again.")
        except openai.RateLimitError as exc:
            if last:
                return NameResult(error="The model server is rate-limiting requests (HTTP 429); "
                                        "try again in a moment.")
            time.sleep(_retry_wait(exc))
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            return NameResult(error=f"The model server at {_display_url(url)} refused the "
                                    f"API key (HTTP {exc.status_code}): check OPENAI_API_KEY.")
        except openai.InternalServerError as exc:
            if last:
                return NameResult(error=f"The model server failed (HTTP {exc.status_code}): "
                                        f"{_snippet(_server_message(exc), key, 120)}")
            time.sleep(_retry_wait(exc))
        except openai.APIStatusError as exc:
            detail = _snippet(_server_message(exc), key, 120)
            return NameResult(error=f"The model server rejected the request "
                                    f"(HTTP {exc.status_code}): {detail}")
        except openai.APIConnectionError:
            if last:
                return NameResult(error=f"Could not reach the model server at "
                                        f"{_display_url(url)}: is it running?")
            time.sleep(1.0)
        except openai.APIError as exc:
            return NameResult(error=f"The model server's answer could not be read: "
                                    f"{_snippet(exc.message, key, 120)}")
    raise AssertionError("unreachable: the last attempt always returns")


# ------------------------------------------------------------------- cache


def _asset_id(asset: Asset) -> str:
    if asset.digest:
        return asset.digest
    h = hashlib.sha256(np.ascontiguousarray(asset.mesh.vertices, np.float64).tobytes())
    h.update(np.ascontiguousarray(asset.mesh.faces, np.int64).tobytes())
    return h.hexdigest()[:32]


def cache_key(asset: Asset, faces: np.ndarray | None, model: str, base_url: str, labels=None) -> str:
    """Cache key of one part (``faces``: its sorted (n,) face indices) or of
    the whole object (``faces`` None), for one model at one endpoint, named
    freely or (``labels``) from a set of allowed names."""
    face_hash = None
    if faces is not None:
        face_hash = hashlib.sha256(np.asarray(faces, np.int64).tobytes()).hexdigest()
    parts = [CACHE_VERSION, _asset_id(asset), face_hash, model, base_url]
    if labels is not None and faces is not None:
        parts.append(list(labels))
    payload = json.dumps(parts)
    return "name:" + hashlib.sha256(payload.encode()).hexdigest()


def open_cache(settings: Settings):
    """The on-disk name cache under ``settings.cache_dir/names`` (diskcache)."""
    import diskcache

    return diskcache.Cache(os.path.join(settings.cache_dir, "names"))


# ------------------------------------------------------------------ naming


def _check_parts(face_labels: np.ndarray, n_faces: int, part_ids) -> list[int]:
    if face_labels.ndim != 1 or len(face_labels) != n_faces:
        raise ValueError(f"face_labels must have shape ({n_faces},), one label per face; "
                         f"got {face_labels.shape}")
    if face_labels.dtype.kind not in "iu":
        raise ValueError(f"face_labels must be integers, got {face_labels.dtype}")
    present = np.unique(face_labels[face_labels >= 0])
    if part_ids is None:
        return [int(p) for p in present]
    wanted = [int(p) for p in part_ids]
    missing = sorted(set(wanted) - set(present.tolist()))
    if missing:
        raise ValueError(f"part ids {missing} label no face")
    return list(dict.fromkeys(wanted))


def name_parts(asset: Asset, face_labels: np.ndarray, settings: Settings, part_ids=None,
               on_result: Callable[[int, NameResult], None] | None = None, max_workers: int = 4,
               timeout: float = 30, cache=None, views: list[View] | None = None,
               label_set=None) -> dict[int, NameResult]:
    """Name parts of an object with the multimodal LLM of ``settings``.

    Parameters
    ----------
    asset : Asset
    face_labels : (F,) int, part id per face (contiguous ids), -1 deleted face
    settings : Settings, endpoint (``openai_base_url``), model (``llm_model``),
        ``cache_dir``; the key is read from OPENAI_API_KEY now
    part_ids : iterable of int, the parts to name (default: every part)
    on_result : callable(part_id, NameResult), called in this thread as each
        result arrives (cached ones first)
    max_workers : int, most requests in flight at once
    timeout : float, seconds to wait for one answer
    cache : None (diskcache under ``settings.cache_dir/names``), False (no
        cache) or a mapping-like object with ``get`` and item assignment
    views : list of View from ``render_canonical(asset)``, to reuse renders
        across calls (another granularity of the same object); rendered
        here, only when some part is not cached, if None
    label_set : sequence of str, the allowed names (e.g. one object's list in
        PartObjaverse-Tiny's semantic.json): the model is asked to choose one
        for each part; an answer outside the set, compared as in
        ``match_label``, is pointed out to it once, then becomes an error.
        Names are then written as in the set. None: free names.

    Returns
    -------
    dict part_id -> NameResult, in ``part_ids`` order. Timeouts, rate limits,
    refusals, malformed answers and server errors become per-part errors;
    names, never errors, are cached.

    Raises
    ------
    NamingUnavailable : no key for OpenAI's API (says how to enable naming),
        or the openai package is missing
    ValueError : face_labels of the wrong shape, unknown part ids, an empty
        label set
    """
    face_labels = np.asarray(face_labels)
    parts = _check_parts(face_labels, asset.n_faces, part_ids)
    if label_set is not None:
        label_set = [str(x) for x in label_set]
        if not label_set or not all(_label_key(x) for x in label_set):
            raise ValueError("label_set must be a non-empty list of non-empty names")
    key = _api_key(settings)
    try:
        import openai
    except ImportError as exc:
        raise NamingUnavailable("Part naming needs the openai package: "
                                "pip install openai==3.52.0") from exc
    url, model = endpoint(settings), settings.llm_model
    start = time.perf_counter()
    results: dict[int, NameResult] = {}

    def report(part_id: int, result: NameResult) -> None:
        results[part_id] = result
        if result.error:
            log.warning("part %d of %s: %s", part_id, asset.name, result.error)
        if on_result is not None:
            on_result(part_id, result)

    own_cache = cache is None
    store = open_cache(settings) if own_cache else (None if cache is False else cache)
    try:
        keys = {p: cache_key(asset, np.flatnonzero(face_labels == p), model, url, label_set) for p in parts}
        todo = []
        for p in parts:
            name = store.get(keys[p]) if store is not None else None
            if name is not None:
                report(p, NameResult(name=name))
            else:
                todo.append(p)
        if todo:
            log.info("naming %d parts of %s with %s at %s (%d cached)", len(todo), asset.name,
                     model, _display_url(url), len(parts) - len(todo))
            canonical = CanonicalViews(views or render_canonical(asset), face_labels)
            client = openai.OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0)
            try:
                _name_uncached(client, canonical, todo, asset, store, keys, report,
                               model=model, url=url, key=settings.openai_api_key,
                               timeout=timeout, max_workers=max_workers, labels=label_set)
            finally:
                client.close()
    finally:
        if own_cache:
            store.close()
    n_ok = sum(r.ok for r in results.values())
    log.info("named %d of %d parts of %s in %.2f s", n_ok, len(parts), asset.name,
             time.perf_counter() - start)
    return {p: results[p] for p in parts}


def _name_uncached(client, views: CanonicalViews, todo: list[int], asset: Asset, store,
                   keys: dict, report, *, model: str, url: str, key: str | None,
                   timeout: float, max_workers: int, labels=None) -> None:
    """Ask about the object, then about each part in ``todo``, concurrently
    (choosing from ``labels`` when given)."""
    ask = dict(key=key, timeout=timeout, url=url)
    object_key = cache_key(asset, None, model, url)
    object_name = store.get(object_key) if store is not None else None
    if object_name is None:
        answer = _ask_safely(client, model, OBJECT_PROMPT, views.object_image(), **ask)
        object_name = answer.name
        if answer.ok and store is not None:
            store[object_key] = answer.name
        if not answer.ok:
            log.warning("could not name %s as a whole (%s); naming its parts without it",
                        asset.name, answer.error)
    log.info("%s looks like: %s", asset.name, object_name)
    prompt = (f"The object is: {object_name}. " if object_name else "") + PART_PROMPT
    if labels is not None:
        prompt = prompt.replace(" Answer with the part's short name only.", "")
        prompt += " " + LABEL_PROMPT.format(names=_label_list(labels))

    def one(part_id: int) -> NameResult:
        return _ask_safely(client, model, prompt, views.part_image(part_id), labels=labels, **ask)

    visible = [p for p in todo if views.best_view(p) is not None]
    for p in todo:
        if p not in visible:
            report(p, NameResult(error="This part is hidden inside the object in every view, "
                                       "so it cannot be shown to the model."))
    with ThreadPoolExecutor(max_workers=max(1, int(max_workers)),
                            thread_name_prefix="naming") as pool:
        futures = {pool.submit(one, p): p for p in visible}
        try:
            for future in as_completed(futures):
                part_id, result = futures[future], future.result()
                if result.ok and store is not None:
                    store[keys[part_id]] = result.name
                report(part_id, result)
        finally:
            for future in futures:
                future.cancel()


def semantic_labels(face_labels: np.ndarray, results: dict, label_set) -> np.ndarray:
    """Per-face semantic labels from named parts.

    face_labels : (F,) int part id per face, -1 deleted
    results : {part id: NameResult or str or None}, names from ``label_set``
    returns (F,) int32, the index in ``label_set`` of each face's part name,
    -1 where the part has no name from the set (or the face is deleted)
    """
    face_labels = np.asarray(face_labels)
    index = {label: i for i, label in reversed(list(enumerate(label_set)))}
    lookup = np.full(int(face_labels.max(initial=-1)) + 2, -1, np.int32)
    for part_id, value in results.items():
        name = value.name if isinstance(value, NameResult) else value
        if name in index and 0 <= int(part_id) < len(lookup) - 1:
            lookup[int(part_id)] = index[name]
    return lookup[np.where(face_labels >= 0, face_labels, len(lookup) - 1)]


def write_names(names: dict, path: str) -> str:
    """Write ``names.json``: {part id: name or null}, ids as strings, sorted.

    names : dict int -> str, NameResult or None (a NameResult with an error
        is written as null)
    path : str, the file to write (replaced atomically)
    returns path
    """
    out = {}
    for part_id in sorted(names, key=int):
        value = names[part_id]
        out[str(int(part_id))] = value.name if isinstance(value, NameResult) else value
    with atomic_write(path) as f:
        f.write((json.dumps(out, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return path
