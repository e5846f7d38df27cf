"""What segment_anything takes from torchvision (``box_area``,
``batched_nms``, ``resize``, ``to_pil_image``), written over torch and PIL
with torchvision's semantics, for where torchvision is missing or broken
(CPU torch beside a CUDA torchvision build): ``import_with(importer)`` puts
these in ``sys.modules`` for one import and takes them out after."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import torch
from PIL import Image

MODULES = ("torchvision", "torchvision.ops", "torchvision.ops.boxes",
           "torchvision.transforms", "torchvision.transforms.functional")


def import_with(importer):
    """``importer()`` with this stand-in registered as torchvision, which is
    unregistered again (and a real one put back) afterwards."""
    saved = {name: mod for name, mod in sys.modules.items()
             if name == "torchvision" or name.startswith("torchvision.")}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(_modules())
    try:
        return importer()
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def _modules() -> dict[str, types.ModuleType]:
    mods = {}
    for name in MODULES:
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
