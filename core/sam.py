"""The ``sam`` mask source: Meta's Segment Anything automatic masks per view.

Checkpoints come from the official URLs, once, into ``<cache_dir>/sam/`` with
a sha256 check (or from PARTSCOPE_SAM_CHECKPOINT), and load strictly: a
missing or unexpected key is an error, never a half-initialized model.
``SamMasks`` is the source an Engine builds and keeps: it loads its model on
first use and runs under the Engine's lock, so nothing here is shared state.

segment_anything imports four torchvision functions; where torchvision is
missing or broken it gets PartScope's stand-in (``torchvision_standin``).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
import types
from dataclasses import dataclass

import numpy as np
import torch

from .masks import ViewMasks, build_view_masks, drop_background_masks, masks_to_layers
from .settings import Settings
from .weights import CheckpointError, download, load_strict

log = logging.getLogger(__name__)

SAM_PACKAGE_HINT = "pip install segment-anything==1.0"


SamCheckpointError = CheckpointError
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
    if not os.path.isfile(path):
        download(entry.url, entry.sha256, path, f"the SAM {model_type} checkpoint",
                 "set PARTSCOPE_SAM_CHECKPOINT to a local copy, or use the default masks (--masks default)")
    return path


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
    load_strict(model, checkpoint, f"the SAM {model_type} architecture",
                f"is it a {model_type} checkpoint? Set MaskConfig.sam_model to the checkpoint's type.",
                "an official SAM .pth file")
    model.eval()
    model.to(device)
    log.info("SAM %s: built in %.1f s, loaded %s in %.1f s, on %s", model_type, built - start,
             os.path.basename(checkpoint), time.perf_counter() - built, device)
    return model


class SamMasks:
    """SAM's automatic masks as a mask source: ``source(asset, views, points,
    graph, embedding)`` gives the masks of every view over the sampled points
    and no first parts (SAM's masks have no 3D family). The model is built
    and loaded on ``device`` on first use, then kept.

    On a GPU the image encoder, which is most of SAM's work, embeds the
    views ENCODER_BATCH at a time in bfloat16, and the prompts go through the
    mask decoder POINTS_PER_BATCH_GPU at a time.
    """

    def __init__(self, config, settings: Settings, device: str = "cpu"):
        self.cfg, self.settings, self.device = config.masks, settings, device
        self._model = None

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            self._model = build_sam(self.cfg.sam_model, checkpoint_path(self.cfg.sam_model, self.settings),
                                    self.device)
        return self._model

    def __call__(self, asset, views: list, points, graph=None, embedding=None,
                 partitions=None) -> tuple[list[ViewMasks], None]:
        cfg = self.cfg
        layers = [masks_to_layers(drop_background_masks(m, v.face, cfg.max_background))
                  for m, v in zip(self.view_masks(views), views)]
        return build_view_masks(views, layers, points, cfg), None

    def view_masks(self, views: list) -> list[np.ndarray]:
        """One (M, H, W) bool array of masks per view (views: rendering.View
        with color (H, W, 3) uint8), largest first; M may be 0."""
        if not views:
            return []
        cfg = self.cfg
        on_gpu = torch.device(self.device).type == "cuda"
        colors = [_view_color(view, i) for i, view in enumerate(views)]
        generator = import_segment_anything().SamAutomaticMaskGenerator(
            self.model, points_per_side=cfg.sam_points_per_side,
            points_per_batch=POINTS_PER_BATCH_GPU if on_gpu else 64,
            pred_iou_thresh=cfg.sam_pred_iou_thresh,
            stability_score_thresh=cfg.sam_stability_thresh, output_mode="binary_mask")
        generator.predictor = predictor = _Embedded(generator.predictor)
        start, out = time.perf_counter(), []
        batch = ENCODER_BATCH if on_gpu else 1
        for first in range(0, len(colors), batch):
            chunk = colors[first:first + batch]
            t0 = time.perf_counter()
            features = embed_images(self.model, predictor.transform, chunk, on_gpu)
            log.info("SAM %s: %d view(s) embedded in %.2f s", cfg.sam_model, len(chunk), time.perf_counter() - t0)
            for i, (color, feature) in enumerate(zip(chunk, features), first):
                t0 = time.perf_counter()
                predictor.features_next = feature[None]
                out.append(_stack_by_area(generator.generate(color), color.shape[:2]))
                log.info("SAM %s view %d: %d masks in %.2f s", cfg.sam_model, i, len(out[-1]),
                         time.perf_counter() - t0)
        log.info("SAM %s: %d views in %.1f s on %s", cfg.sam_model, len(views),
                 time.perf_counter() - start, self.device)
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


def import_segment_anything() -> types.ModuleType:
    """The segment_anything package, importable with or without a working torchvision."""
    if "segment_anything" in sys.modules:
        return sys.modules["segment_anything"]
    try:
        importlib.import_module("torchvision.ops.boxes")
        importlib.import_module("torchvision.transforms.functional")
    except Exception as exc:  # a broken install raises RuntimeError, OSError, ...
        from . import torchvision_standin

        log.info("torchvision is unusable (%s: %s); segment_anything gets PartScope's stand-in",
                 type(exc).__name__, exc)
        return torchvision_standin.import_with(_import_package)
    return _import_package()


def _import_package() -> types.ModuleType:
    try:
        return importlib.import_module("segment_anything")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "segment_anything":
            raise
        raise ImportError(
            f"The 'sam' mask source needs the segment-anything package: {SAM_PACKAGE_HINT} "
            "(or use the default masks).", name=exc.name) from exc
