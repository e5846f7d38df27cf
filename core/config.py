"""Algorithm settings: typed dataclasses whose defaults are the paper's values
or, where a 2-core CPU cannot afford those, the measured replacement (said so
in the field's docstring)."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from dataclasses import field as _field


@dataclass
class SampleConfig:
    n_points: int = 15000
    """Surface points sampled area-weighted (paper: 15,000)."""


@dataclass
class RenderConfig:
    n_views: int = 16
    """Views in the reference layout: 8 azimuths, each at +-25/40 deg elevation."""
    resolution: int = 512
    """Width and height of every view in pixels."""
    fov_deg: float = 39.6
    """Horizontal (= vertical) field of view of the perspective camera."""
    distance: float = 1.39
    """Camera distance as a multiple of the bounding-box diagonal."""


@dataclass
class MaskConfig:
    source: str = "default"
    """Where 2D masks come from: 'default' (geometry and asset structure) or 'sam'."""
    max_background: float = 0.10
    """Drop a mask covering more than this share of the background."""
    max_scale: float = 2.0
    """Drop SAM masks whose scale (10 x std of their points, norm) reaches this
    (paper: 2). Geometry masks know their whole 3D extent and keep every size
    up to the whole object, so the coarse end of the slider is the object."""
    pixel_radius: float = 0.03
    """A pixel maps to the nearest sampled point within this distance."""
    min_points: int = 8
    """Drop masks that see fewer sampled points than this."""
    sam_model: str = "vit_h"
    """SAM backbone for source='sam' (vit_h as in the paper; vit_l, vit_b)."""
    sam_points_per_side: int = 32
    """SAM automatic mask generation grid (paper: 32 x 32)."""
    sam_pred_iou_thresh: float = 0.9
    """SAM predicted-IoU threshold (paper: 0.9)."""
    sam_stability_thresh: float = 0.9
    """SAM stability-score threshold (paper: 0.9)."""


@dataclass
class FieldConfig:
    backbone: str = "spectral"
    """Per-point backbone features: 'spectral' (commute-time embedding of the
    concavity-weighted face graph, no weights needed) or 'none' (skip branch alone)."""
    hidden: int = 128
    """Hidden width (paper: 384; 128 measured as enough on a CPU)."""
    skip_layers: int = 4
    """Hidden layers of the long-skip MLP over position, normal, color, scale (paper: 4)."""
    group_layers: int = 6
    """Hidden layers of the grouping MLP over backbone features and scale (paper: 6)."""
    out_dim: int = 8
    """Feature size (paper: 384; small so HDBSCAN stays fast)."""
    n_frequencies: int = 6
    """Fourier frequencies for the point position fed to the skip MLP."""
    steps: int = 400
    """Most optimizer steps (paper: 5,000 on a GPU); see ``steps_per_mask``."""
    min_steps: int = 300
    """Fewest optimizer steps. PSB dev, the 12 meshes that 16 steps per mask
    gave under 300, three seeds, on the same masks, average Rand Index error /
    count-matched mIoU: at least 200, 0.113 / 0.744; at least 300, 0.106 /
    0.751 (the bust, PSB 301, 12 masks a view: 0.216 -> 0.130-0.146, every seed;
    two of its large parts stayed one after 200 steps)."""
    steps_per_mask: int = 16
    """Steps per mask of the view holding the most masks: a box of a few
    parts needs fewer than a figure of thirty. PSB dev (3 to 40 masks a
    view), three seeds, average Rand Index error / count-matched mIoU:
    16 per mask, at least 300 (median 300 steps), as fitted now, parts
    nested: 0.102 / 0.725; at least 200 (median 272): 0.107 / 0.720 (cut
    scale by scale: 0.110 / 0.710; before the fit's halves, 0.109 / 0.718,
    with the first layers in bfloat16 too: 0.104 / 0.722); 12 per mask, at least 120 (median 204), whole network
    in bfloat16: 0.110 / 0.720, in float32: 0.107 / 0.718; 400 for all,
    float32: 0.103 / 0.728 (those four cut scale by scale).
    One run differs from the next by +-0.02 with any change at all: single
    meshes flip between two cuts (PSB 201, 241, 301, 361)."""
    views_per_step: int = 8
    """Views drawn per step (paper: 90 images)."""
    points_per_view: int = 256
    """Most points drawn per view and step (paper: 256 pixels); see ``points_per_mask``."""
    points_per_mask: int = 16
    """Points drawn per view and step for each mask of the view holding the
    most, at least ``min_points``: a view of three parts is told apart by
    fewer pairs than one of thirty, and a step costs about its points.
    PSB dev, the 10 meshes it gives under 256 points in some seed (3 to 18
    masks a view), three seeds, on the same masks: fitting median 9.2 ->
    5.2 s; average Rand Index error 0.0877 -> 0.0882, count-matched mIoU
    0.779 -> 0.783. 64 points for every mesh: fitting median 3.9 s, but
    PSB 341 (8 masks) lost 0.11 mIoU and 381 (33 masks) 0.06."""
    min_points: int = 64
    """Fewest points drawn per view and step."""
    balance: float = 0.5
    """Points of a view are drawn with weight 1 / (size of their group) ** balance
    (0: uniform, as the paper's pixels; 1: every group equally often). PSB dev,
    count-matched mIoU / best-scale mIoU / RI error: 0 -> 0.663 / 0.670 / 0.105,
    0.5 -> 0.675 / 0.701 / 0.111, 1 -> 0.671 / 0.713 / 0.129."""
    fine_share: float = 0.35
    """Share of views trained at scale 0, each point in its smallest mask (the
    paper draws a level per pixel, so its finest level gets a fair share too;
    drawn from the mask scales alone, it is almost never trained). PSB dev,
    count-matched mIoU seeds 0 / 1 / 2: 0.2 -> 0.706 / 0.722 / 0.738,
    0.35 -> 0.718 / 0.735 / 0.722 (mean 0.722 -> 0.725, worst seed 0.706 -> 0.718)."""
    lr: float = 3e-3
    """Peak learning rate of the one-cycle schedule (paper: 1e-4 over 5,000 steps)."""
    margin: float = 1.0
    """Margin of the push-apart loss."""
    precision: str = "auto"
    """Arithmetic of the network while it is fitted: 'float32', 'bfloat16'
    (the first layers, the distances and the loss stay float32; features are
    always computed in float32) or 'auto': bfloat16 on a CPU that multiplies
    it natively (AVX512-BF16 or AMX), else float32. A step on PSB 121, the
    halves of its views on two threads (``field.fit_field``), quiet: 60 ms
    in float32, 42 ms in bfloat16."""
    cuda_graph: bool = True
    """On a CUDA device, record one training step (draws, network, loss,
    gradients) once as a CUDA graph and replay it: hundreds of small kernels
    launched as one."""


@dataclass
class ClusterConfig:
    min_cluster_size: int = 30
    """HDBSCAN min_cluster_size (paper: 30)."""
    min_samples: int = 30
    """HDBSCAN min_samples (paper: 30)."""
    epsilon: float = 0.1
    """HDBSCAN cluster_selection_epsilon (paper: 0.1)."""


@dataclass
class SegmentConfig:
    sample: SampleConfig = _field(default_factory=SampleConfig)
    render: RenderConfig = _field(default_factory=RenderConfig)
    masks: MaskConfig = _field(default_factory=MaskConfig)
    field: FieldConfig = _field(default_factory=FieldConfig)
    cluster: ClusterConfig = _field(default_factory=ClusterConfig)
    seed: int = 0
    """Seed for every random draw; the same seed gives the same labels."""


def config_key(cfg) -> dict:
    """A plain nested dict of a config dataclass, for cache keys and reports."""
    out = {}
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        out[f.name] = config_key(value) if is_dataclass(value) else value
    return out
