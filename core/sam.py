"""The ``sam`` mask source: Meta's Segment Anything automatic masks per view.

Checkpoints come from the official URLs, once, into ``<cache_dir>/sam/`` with
a sha256 check (or from PARTSCOPE_SAM_CHECKPOINT), and load strictly: a
missing or unexpected key is an error, never a half-initialized model.

segment_anything imports four torchvision functions. Where torchvision is
missing or broken (CPU torch with a CUDA torchvision build), a stand-in with
the same semantics, written here over torch and PIL, is put in
``sys.modules`` just for the import of segment_anything and taken out after.

One lock serializes model loading and inference for the whole process: the
web app serves several people and GPU work must not interleave.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import importlib.machinery
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
import types
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .config import MaskConfig
from .settings import Settings, pick_device

log = logging.getLogger(__name__)

SAM_PACKAGE_HINT = "pip install segment-anything==1.0"


class SamCheckpointError(RuntimeError):
    """A SAM checkpoint that cannot be fetched or loaded; the message says what to do."""


@dataclass(frozen=True)
class SamCheckpoint:
    """One official checkpoint: where it is published and its sha256."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


CHECKPOINTS: dict[str, SamCheckpoint] = {
    "vit_h": SamCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e"),
    "vit_l": SamCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622"),
    "vit_b": SamCheckpoint(
        "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912"),
}

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20

_LOCK = threading.Lock()
"""Held while a model loads and while SAM runs: one user on the accelerator at a time."""
_DOWNLOAD_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str, str], torch.nn.Module] = {}


# --------------------------------------------------------------------------
# Checkpoints


def _entry(model_type: str) -> SamCheckpoint:
    if model_type not in CHECKPOINTS:
        raise ValueError(f"Unknown SAM model '{model_type}': use one of {', '.join(CHECKPOINTS)}.")
    return CHECKPOINTS[model_type]


def checkpoint_path(model_type: str, settings: Settings) -> str:
    """Local path of the checkpoint for ``model_type``.

    PARTSCOPE_SAM_CHECKPOINT (``settings.sam_checkpoint``) wins; else the
    official file in ``<cache_dir>/sam/``, downloaded once and verified by
    sha256. Raises SamCheckpointError when offline or on a checksum mismatch.
    """
    entry = _entry(model_type)
    if settings.sam_checkpoint:
        path = os.path.expanduser(settings.sam_checkpoint)
        if not os.path.isfile(path):
            raise SamCheckpointError(
                f"PARTSCOPE_SAM_CHECKPOINT is set to '{path}', but there is no file there: "
                "point it at a SAM .pth checkpoint or unset it.")
        return path
    path = os.path.join(settings.cache_dir, "sam", entry.filename)
    with _DOWNLOAD_LOCK:
        if not os.path.isfile(path):
            _download(model_type, entry, path)
    return path


def _download(model_type: str, entry: SamCheckpoint, dest: str) -> None:
    """Fetch ``entry`` to ``dest`` through a temp file, verify, rename atomically."""
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    offline = (
        f"Could not download the SAM {model_type} checkpoint from {entry.url} ({{reason}}): "
        f"download it by hand and put it at '{dest}', or set PARTSCOPE_SAM_CHECKPOINT "
        "to a local copy, or use the default masks (--masks default).")
    log.info("downloading SAM %s checkpoint from %s", model_type, entry.url)
    start = time.perf_counter()
    fd, tmp = tempfile.mkstemp(prefix=entry.filename + ".", suffix=".part", dir=folder)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(entry.url, timeout=DOWNLOAD_TIMEOUT_S)
            except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is OSError
                raise SamCheckpointError(offline.format(reason=_reason(exc))) from exc
            with response:
                total = int(response.headers.get("Content-Length") or 0)
                next_report = 0.1
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        raise SamCheckpointError(offline.format(reason=_reason(exc))) from exc
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if total and size >= next_report * total:
                        log.info("SAM %s download: %d%% of %.0f MB", model_type,
                                 100 * size // total, total / 2**20)
                        next_report += 0.1
        got = digest.hexdigest()
        if got != entry.sha256:
            raise SamCheckpointError(
                f"The SAM {model_type} checkpoint downloaded from {entry.url} has sha256 {got}, "
                f"not the published {entry.sha256}: the download was damaged or altered and was "
                f"deleted. Try again, or put a verified copy at '{dest}' or set "
                "PARTSCOPE_SAM_CHECKPOINT.")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    log.info("downloaded %s (%.0f MB) in %.1f s, sha256 verified", dest, size / 2**20,
             time.perf_counter() - start)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


# --------------------------------------------------------------------------
# Models


def _build_vit_h() -> torch.nn.Module:
    """SAM ViT-H (636M parameters), random weights, eval mode."""
    return import_segment_anything().build_sam_vit_h(checkpoint=None)


def _build_vit_l() -> torch.nn.Module:
    """SAM ViT-L (308M parameters), random weights, eval mode."""
    return import_segment_anything().build_sam_vit_l(checkpoint=None)


def _build_vit_b() -> torch.nn.Module:
    """SAM ViT-B (91M parameters), random weights, eval mode."""
    return import_segment_anything().build_sam_vit_b(checkpoint=None)


SAM_BUILDERS = {"vit_h": _build_vit_h, "vit_l": _build_vit_l, "vit_b": _build_vit_b}
"""Architecture builders; weights come from ``build_sam``'s strict loading."""


def build_sam(model_type: str, checkpoint: str, device: str = "cpu") -> torch.nn.Module:
    """Build SAM ``model_type`` and load ``checkpoint`` into it strictly.

    The checkpoint is read on the CPU with ``weights_only=True``; it may be a
    raw state dict or ``{'model': state_dict}``. Any missing, unexpected or
    mis-shaped key raises SamCheckpointError naming the keys. Returns the
    model in eval mode on ``device``.
    """
    if model_type not in SAM_BUILDERS:
        raise ValueError(f"Unknown SAM model '{model_type}': use one of {', '.join(SAM_BUILDERS)}.")
    start = time.perf_counter()
    model = SAM_BUILDERS[model_type]()
    built = time.perf_counter()
    state = _read_state_dict(checkpoint)
    _check_keys(model, state, model_type, checkpoint)
    model.load_state_dict(state, strict=True)
    model.eval()
    model.to(device)
    log.info("SAM %s: built in %.1f s, loaded %s in %.1f s, on %s", model_type, built - start,
             os.path.basename(checkpoint), time.perf_counter() - built, device)
    return model


def _read_state_dict(checkpoint: str) -> Mapping:
    try:
        data = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise SamCheckpointError(
            f"'{checkpoint}' is not a readable PyTorch checkpoint ({type(exc).__name__}: "
            f"{first_line}): use an official SAM .pth file.") from exc
    if isinstance(data, Mapping) and isinstance(data.get("model"), Mapping):
        data = data["model"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise SamCheckpointError(
            f"'{checkpoint}' holds no state dict of tensors (found {type(data).__name__}): "
            "use an official SAM .pth file.")
    return data


def _check_keys(model: torch.nn.Module, state: Mapping, model_type: str, checkpoint: str) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or reshaped):
        return
    parts = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                        ("keys with the wrong shape (checkpoint vs model)", reshaped)):
        if keys:
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
            parts.append(f"{len(keys)} {label}: {shown}")
            log.error("SAM checkpoint %s, %s: %s", checkpoint, label, keys)
    raise SamCheckpointError(
        f"'{checkpoint}' does not match the SAM {model_type} architecture ({'; '.join(parts)}): "
        f"is it a {model_type} checkpoint? Set MaskConfig.sam_model to the checkpoint's type.")


def sam_model(model_type: str, settings: Settings, device: str = "cpu") -> torch.nn.Module:
    """The process-wide SAM model for this type, checkpoint and device (loaded once)."""
    device = pick_device(device)
    path = checkpoint_path(model_type, settings)
    with _LOCK:
        return _cached_model(model_type, path, device)


def _cached_model(model_type: str, path: str, device: str) -> torch.nn.Module:
    """Caller holds ``_LOCK``."""
    key = (model_type, os.path.realpath(path), device)
    if key not in _MODELS:
        _MODELS[key] = build_sam(model_type, path, device)
    return _MODELS[key]


def clear_model_cache() -> None:
    """Drop every cached model (frees its memory once no caller holds it)."""
    with _LOCK:
        _MODELS.clear()


# --------------------------------------------------------------------------
# Masks


def sam_masks(views: list, cfg: MaskConfig, device: str, settings: Settings) -> list[np.ndarray]:
    """SAM automatic masks for each view.

    views : list of rendering.View, each with color (H, W, 3) uint8
    cfg : MaskConfig; uses sam_model, sam_points_per_side,
        sam_pred_iou_thresh, sam_stability_thresh
    device : 'cpu', 'cuda' or 'auto'
    returns one (M, H, W) bool array per view, masks sorted by area, largest
    first (M may be 0).

    On a GPU the image encoder, which is most of SAM's work, embeds the
    views ENCODER_BATCH at a time in bfloat16, and the prompts go through the
    mask decoder POINTS_PER_BATCH_GPU at a time.
    """
    if not views:
        return []
    device = pick_device(device)
    on_gpu = torch.device(device).type == "cuda"
    path = checkpoint_path(cfg.sam_model, settings)
    generator_cls = import_segment_anything().SamAutomaticMaskGenerator
    colors = [_view_color(view, i) for i, view in enumerate(views)]
    out = []
    with _LOCK:
        model = _cached_model(cfg.sam_model, path, device)
        generator = generator_cls(
            model, points_per_side=cfg.sam_points_per_side,
            points_per_batch=POINTS_PER_BATCH_GPU if on_gpu else 64,
            pred_iou_thresh=cfg.sam_pred_iou_thresh,
            stability_score_thresh=cfg.sam_stability_thresh, output_mode="binary_mask")
        generator.predictor = predictor = _Embedded(generator.predictor)
        start = time.perf_counter()
        batch = ENCODER_BATCH if on_gpu else 1
        for first in range(0, len(colors), batch):
            t0 = time.perf_counter()
            features = embed_images(model, predictor.transform, colors[first:first + batch], on_gpu)
            log.info("SAM %s: %d view(s) embedded in %.2f s", cfg.sam_model, len(features), time.perf_counter() - t0)
            for i, (color, feature) in enumerate(zip(colors[first:first + batch], features), first):
                t0 = time.perf_counter()
                predictor.features_next = feature[None]
                out.append(_stack_by_area(generator.generate(color), color.shape[:2]))
                log.info("SAM %s view %d: %d masks in %.2f s", cfg.sam_model, i, len(out[-1]),
                         time.perf_counter() - t0)
    log.info("SAM %s: %d views in %.1f s on %s", cfg.sam_model, len(views),
             time.perf_counter() - start, device)
    return out


ENCODER_BATCH = 16
"""Views embedded at once on a GPU (ViT-H: about 1 GB of activations a view)."""
POINTS_PER_BATCH_GPU = 256
"""Point prompts decoded at once on a GPU (the generator's default, 64, suits a CPU)."""


def _view_color(view, i: int) -> np.ndarray:
    color = np.ascontiguousarray(view.color)
    if color.ndim != 3 or color.shape[2] != 3 or color.dtype != np.uint8:
        raise ValueError(f"view {i}: color must be (H, W, 3) uint8, got {color.shape} {color.dtype}.")
    return color


@torch.no_grad()
def embed_images(model, transform, colors: list[np.ndarray], half: bool = False) -> torch.Tensor:
    """(B, 256, 64, 64) float32 SAM image embeddings of (H, W, 3) uint8 RGB
    images, in one pass of the encoder (``half``: in bfloat16), as
    ``SamPredictor.set_image`` computes them one at a time."""
    device = model.device
    x = torch.stack([torch.as_tensor(transform.apply_image(c)).permute(2, 0, 1) for c in colors]).to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=half):
        return model.image_encoder(model.preprocess(x)).float()


class _Embedded:
    """The generator's SamPredictor, whose ``set_image`` takes the embedding
    computed beforehand (``features_next``) instead of running the encoder:
    the views are embedded in batches, the generator then works view by view."""

    def __init__(self, predictor):
        self._predictor = predictor
        self.features_next = None

    def __getattr__(self, name):
        return getattr(self._predictor, name)

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        p = self._predictor
        p.reset_image()
        p.original_size = image.shape[:2]
        p.input_size = p.transform.get_preprocess_shape(*image.shape[:2], p.model.image_encoder.img_size)
        p.features, self.features_next = self.features_next, None
        p.is_image_set = True


def _stack_by_area(records: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """(M, H, W) bool masks of SAM's records, largest area first (stable)."""
    if not records:
        return np.zeros((0,) + tuple(shape), bool)
    masks = np.stack([np.asarray(r["segmentation"], bool) for r in records])
    order = np.argsort(-masks.sum(axis=(1, 2)), kind="stable")
    return masks[order]


# --------------------------------------------------------------------------
# segment_anything import, with a torchvision stand-in where torchvision is unusable

_SEGMENT_ANYTHING: types.ModuleType | None = None
_STANDIN_MODULES = ("torchvision", "torchvision.ops", "torchvision.ops.boxes",
                    "torchvision.transforms", "torchvision.transforms.functional")


def import_segment_anything() -> types.ModuleType:
    """The segment_anything package, importable with or without a working torchvision."""
    global _SEGMENT_ANYTHING
    if _SEGMENT_ANYTHING is not None:
        return _SEGMENT_ANYTHING
    with _IMPORT_LOCK:
        if _SEGMENT_ANYTHING is None:
            try:
                importlib.import_module("torchvision.ops.boxes")
                importlib.import_module("torchvision.transforms.functional")
            except Exception as exc:  # a broken install raises RuntimeError, OSError, ...
                log.info("torchvision is unusable (%s: %s); segment_anything gets PartScope's "
                         "stand-in", type(exc).__name__, exc)
                _SEGMENT_ANYTHING = _import_with_standin()
            else:
                _SEGMENT_ANYTHING = _import_package()
    return _SEGMENT_ANYTHING


def _import_package() -> types.ModuleType:
    try:
        return importlib.import_module("segment_anything")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "segment_anything":
            raise
        raise ImportError(
            f"The 'sam' mask source needs the segment-anything package: {SAM_PACKAGE_HINT} "
            "(or use the default masks).", name=exc.name) from exc


def _import_with_standin() -> types.ModuleType:
    """Import segment_anything with the stand-in registered, then unregister it."""
    saved = {name: mod for name, mod in sys.modules.items()
             if name == "torchvision" or name.startswith("torchvision.")}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(_standin_modules())
    try:
        return _import_package()
    finally:
        for name in _STANDIN_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def _standin_modules() -> dict[str, types.ModuleType]:
    mods = {}
    for name in _STANDIN_MODULES:
        mod = types.ModuleType(name, "PartScope's stand-in for what segment_anything uses.")
        package = name.count(".") < 2
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)
        if package:
            mod.__path__ = []
        mods[name] = mod
    mods["torchvision"].ops = mods["torchvision.ops"]
    mods["torchvision"].transforms = mods["torchvision.transforms"]
    mods["torchvision.ops"].boxes = mods["torchvision.ops.boxes"]
    mods["torchvision.transforms"].functional = mods["torchvision.transforms.functional"]
    mods["torchvision.ops.boxes"].batched_nms = batched_nms
    mods["torchvision.ops.boxes"].box_area = box_area
    mods["torchvision.transforms.functional"].resize = resize
    mods["torchvision.transforms.functional"].to_pil_image = to_pil_image
    return mods


def _upcast(t: torch.Tensor) -> torch.Tensor:
    """Wider dtype for products, as torchvision does (float32/64, int32/64)."""
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t if t.dtype in (torch.int32, torch.int64) else t.int()


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(N,) areas of (N, 4) boxes in (x1, y1, x2, y2) format (torchvision.ops.box_area)."""
    boxes = _upcast(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """Non-maximum suppression done independently per category
    (torchvision.ops.batched_nms).

    boxes : (N, 4) float, (x1, y1, x2, y2)
    scores : (N,) float
    idxs : (N,) int, category of each box; boxes of different categories
        never suppress each other
    returns (K,) int64 indices of the kept boxes, by decreasing score. A box
    is dropped when its IoU with a kept higher-scoring box of its category
    exceeds ``iou_threshold``.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    b = boxes[order]
    cat = idxs.to(boxes.device)[order]
    area = box_area(b)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    iou = inter / (area[:, None] + area[None, :] - inter)
    overlaps = ((iou > iou_threshold) & (cat[:, None] == cat[None, :])).cpu().numpy()
    removed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(i)
        removed |= overlaps[i]
    return order[torch.as_tensor(keep, dtype=torch.int64, device=order.device)]


def resize(img, size, interpolation=None, max_size=None, antialias=True):
    """Bilinear resize to ``size`` = (h, w) (torchvision.transforms.functional.resize).

    A PIL image goes through PIL's bilinear filter (what torchvision does for
    PIL input); a (..., C, H, W) tensor through antialiased bilinear
    interpolation, rounded back for integer dtypes. Only the (h, w) form and
    bilinear interpolation are provided: that is what segment_anything uses.
    """
    if interpolation is not None and getattr(interpolation, "value", interpolation) != "bilinear":
        raise NotImplementedError("the torchvision stand-in resizes bilinearly only")
    if max_size is not None or isinstance(size, int) or len(size) != 2:
        raise NotImplementedError("the torchvision stand-in resizes to an explicit (h, w) only")
    h, w = int(size[0]), int(size[1])
    if isinstance(img, Image.Image):
        if img.size == (w, h):
            return img
        return img.resize((w, h), Image.Resampling.BILINEAR)
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"resize takes a PIL image or a tensor, not {type(img).__name__}")
    if tuple(img.shape[-2:]) == (h, w):
        return img
    lead = img.shape[:-3]
    x = img.reshape((-1,) + tuple(img.shape[-3:])).float()
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False,
                                        antialias=bool(antialias))
    if not img.is_floating_point():
        x = x.round()
        if img.dtype == torch.uint8:
            x = x.clamp(0, 255)
    return x.to(img.dtype).reshape(tuple(lead) + tuple(x.shape[-3:]))


def to_pil_image(pic, mode=None) -> Image.Image:
    """A PIL image of an (H, W[, C]) uint8 array or a (C, H, W) tensor
    (torchvision.transforms.functional.to_pil_image for 1, 3 or 4 channels)."""
    if isinstance(pic, torch.Tensor):
        if pic.ndim == 2:
            pic = pic[None]
        if pic.is_floating_point():
            pic = pic.mul(255).byte()
        pic = pic.permute(1, 2, 0).cpu().numpy()
    pic = np.asarray(pic)
    if pic.ndim == 2:
        pic = pic[:, :, None]
    if pic.ndim != 3 or pic.shape[2] not in (1, 3, 4) or pic.dtype != np.uint8:
        raise TypeError(f"the torchvision stand-in converts uint8 images with 1, 3 or 4 channels, "
                        f"not {pic.dtype} {pic.shape}")
    image = Image.fromarray(np.ascontiguousarray(pic[:, :, 0] if pic.shape[2] == 1 else pic))
    return image if mode is None or image.mode == mode else image.convert(mode)
