"""The scale-conditioned feature field (DESIGN.md steps 5-7): two MLPs whose
L2-normalized outputs are summed, trained with GARField-style contrastive
pairs drawn within one view at a time.

CPU budget: instead of 23,040 pixels per step and a pair matrix over all of
them, each step draws a few views and a few hundred *points* per view (the
sampled points the view's pixels map to), one scale per view, and forms
pairs only inside each view (a block-diagonal pair matrix). Points are drawn
with weights that favour small groups (``FieldConfig.balance``): with
uniform draws a part holding 1% of a view gets ~2 of 256 points, too few
pairs to keep it apart from its neighbours at fine scales."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtri
from torch import nn

from .config import FieldConfig
from .masks import ViewMasks
from .sampling import Points

log = logging.getLogger(__name__)

_N_QUANTILES = 101


@dataclass
class ScaleTransform:
    """Quantile transform of mask scales to a standard normal (DESIGN step 5).

    quantiles : (Q,) float32 increasing mask-scale quantiles of this object
    """

    quantiles: np.ndarray

    @classmethod
    def fit(cls, scales: np.ndarray) -> "ScaleTransform":
        if len(scales) == 0:
            scales = np.array([0.0, 2.0])
        q = np.quantile(np.asarray(scales, np.float64), np.linspace(0, 1, _N_QUANTILES))
        q = q + np.arange(_N_QUANTILES) * 1e-6  # strictly increasing for interpolation
        return cls(q.astype(np.float32))

    def __call__(self, scale) -> np.ndarray:
        levels = np.clip(np.linspace(0, 1, _N_QUANTILES), 1e-3, 1 - 1e-3)
        return np.interp(np.asarray(scale, np.float64), self.quantiles, ndtri(levels)).astype(np.float32)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n,) float scales drawn from this object's mask-scale distribution."""
        return np.interp(rng.random(n), np.linspace(0, 1, _N_QUANTILES), self.quantiles)


def fourier(xyz: torch.Tensor, n_frequencies: int) -> torch.Tensor:
    """(n, 3 + 6 F) positional encoding: xyz, sin and cos of 2^k pi xyz."""
    freqs = (2.0 ** torch.arange(n_frequencies, dtype=xyz.dtype, device=xyz.device)) * math.pi
    angles = (xyz[:, :, None] * freqs).flatten(1)
    return torch.cat([xyz, torch.sin(angles), torch.cos(angles)], dim=1)


def mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    mods, width = [], n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class ScaleField(nn.Module):
    """f(point, scale) = norm(skip([pos, normal, color, s])) + norm(group([backbone, s]))."""

    def __init__(self, cfg: FieldConfig, backbone_dim: int = 0):
        super().__init__()
        self.n_frequencies = cfg.n_frequencies
        n_skip = 3 + 6 * cfg.n_frequencies + 6 + 1
        self.skip = mlp(n_skip, cfg.hidden, cfg.skip_layers, cfg.out_dim)
        self.group = mlp(backbone_dim + 1, cfg.hidden, cfg.group_layers, cfg.out_dim) if backbone_dim else None

    def encode(self, points: Points, device: str) -> dict:
        """Per-point inputs that do not depend on the scale, as tensors."""
        xyz = torch.as_tensor(points.xyz, device=device)
        base = torch.cat([
            fourier(xyz, self.n_frequencies),
            torch.as_tensor(points.normal, device=device),
            torch.as_tensor(points.color, device=device).float() / 255.0,
        ], dim=1)
        return {"skip": base}

    def forward(self, inputs: dict, backbone: torch.Tensor | None, scale: torch.Tensor) -> torch.Tensor:
        """(n, D) features. inputs['skip'] : (n, k); scale : (n, 1) transformed."""
        out = _branch(self.skip, torch.cat([inputs["skip"], scale], dim=1))
        if self.group is not None:
            out = out + _branch(self.group, torch.cat([backbone, scale], dim=1))
        return out


def _branch(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """One MLP's L2-normalized float32 output. Its first layer always runs in
    float32: positions and spectral coordinates rounded to bfloat16 (3
    digits) blur thin parts (PSB ant 81 lost 0.05-0.08 mIoU)."""
    with torch.autocast(x.device.type, enabled=False):
        first = net[0](x)
    return F.normalize(net[1:](first).float(), dim=1)


def group_table(member: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every point's group at every scale, at once. At scale s a point's group
    is the smallest mask holding it whose scale reaches s; past every mask,
    its largest (containment); -1 where no mask holds it.

    member : (n, M) bool; scales : (M,)
    returns ((M,) sorted mask scales, (n, M + 1) int32 table): at scale s,
    with k the number of masks below s, column k holds each point's group
    (a mask index)
    """
    order = np.argsort(scales, kind="stable")
    m = member[:, order]
    n, n_masks = m.shape
    table = np.empty((n, n_masks + 1), np.int32)
    held = m.any(axis=1)
    table[:, n_masks] = np.where(held, order[n_masks - 1 - np.argmax(m[:, ::-1], axis=1)] if n_masks else -1, -1)
    for k in range(n_masks - 1, -1, -1):
        table[:, k] = np.where(m[:, k], order[k], table[:, k + 1])
    return np.asarray(scales)[order], table


def fit_field(points: Points, masks: list[ViewMasks], cfg: FieldConfig, backbone: np.ndarray | None = None,
              seed: int = 0, device: str = "cpu", progress=None, threads: int = 1) -> tuple[ScaleField, ScaleTransform]:
    """Train the field on one object's masks. Same seed, same result (on CPU,
    whatever ``threads``). Its steps and points per view follow the object
    (``fit_size``).

    backbone : (N, B) float32 per-point features or None
    progress : callable(fraction) or None
    threads : CPU threads to train on. Each step's views are cut in two
        halves whose gradients are summed; with two threads or more each half
        runs on its own thread, on one torch thread in bfloat16 (its small
        products gain nothing from a second), on half the threads in float32.
        PSB 121, ms per step in bfloat16: 62 on one thread, 42 on two; under
        a competing 2-process load 111 on one, 67 on two (the halves do not
        wait for each other while they run, as intra-op threads do).
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    usable = [m for m in masks if m.member.shape[1] and len(m.points) >= 2]
    transform = ScaleTransform.fit(np.concatenate([m.scales for m in masks]) if masks else np.zeros(0))
    model = ScaleField(cfg, 0 if backbone is None else backbone.shape[1]).to(device)
    inputs = model.encode(points, device)
    bb = None if backbone is None else torch.as_tensor(backbone, device=device)
    if not usable:
        log.warning("no usable masks: the field stays untrained")
        return model.eval(), transform
    steps, n_points = fit_size(usable, cfg)
    half = use_bfloat16(cfg.precision, device)
    log.info("field: %s arithmetic", "bfloat16" if half else "float32")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, foreach=True)  # as the loop, bit for bit; 0.4 ms a step less on a CPU
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    cache: list[dict] = [{} for _ in usable]  # per view: groups per scale interval
    before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1 if half else max(threads // 2, 1))
    pool = ThreadPoolExecutor(1) if threads > 1 and device == "cpu" else None
    params = list(model.parameters())

    def gradients(share, counts):
        loss = _pair_loss(model, inputs, bb, transform, *share, cfg.margin, device, half, counts)
        return loss, torch.autograd.grad(loss, params)

    try:
        for step in range(steps):
            batch = _draw_batch(rng, usable, transform, cfg, n_points, cache)
            counts = _pair_counts(batch[1])
            first, second = (tuple(a[k::2] for a in batch) for k in (0, 1))
            later = pool.submit(gradients, second, counts) if pool else None
            loss, grads = gradients(first, counts)
            loss2, grads2 = later.result() if later else gradients(second, counts)
            for p, g, g2 in zip(params, grads, grads2):
                p.grad = g + g2
            opt.step()
            sched.step()
            if progress is not None and step % 20 == 0:
                progress(step / steps)
            if step % 100 == 0:
                log.debug("field step %d loss %.4f", step, loss.item() + loss2.item())
    finally:
        if pool is not None:
            pool.shutdown()
        torch.set_num_threads(before)
    log.info("field: %d steps of %d points a view", steps, n_points)
    return model.eval(), transform


def fit_size(masks: list[ViewMasks], cfg: FieldConfig) -> tuple[int, int]:
    """(optimizer steps, points drawn per view and step) for these masks,
    both counted per mask of the view holding the most (the parts the field
    must tell apart at some scale): ``cfg.steps_per_mask`` steps, between
    ``cfg.min_steps`` and ``cfg.steps``; ``cfg.points_per_mask`` points,
    between ``cfg.min_points`` and ``cfg.points_per_view``."""
    most = max((m.member.shape[1] for m in masks), default=0)
    steps = np.clip(cfg.steps_per_mask * most, min(cfg.min_steps, cfg.steps), cfg.steps)
    points = np.clip(cfg.points_per_mask * most, min(cfg.min_points, cfg.points_per_view), cfg.points_per_view)
    return int(steps), int(points)


def _draw_batch(rng, usable: list[ViewMasks], transform: ScaleTransform, cfg: FieldConfig, n_pts: int, cache: list[dict]):
    """One step's draws: (ids, groups, scales, larger scales), each (V, P):
    ``cfg.views_per_step`` views, one scale each, ``n_pts`` points per view
    drawn by ``_balanced_pick``, and for each point a larger scale for the
    containment term."""
    n_views = cfg.views_per_step
    ids = np.zeros((n_views, n_pts), np.int64)
    groups = np.full((n_views, n_pts), -1, np.int64)
    s_draw = np.zeros(n_views)
    for slot, v in enumerate(rng.integers(len(usable), size=n_views)):
        vm = usable[v]
        s = _draw_scale(rng, transform, cfg.fine_share)
        pick, group = _balanced_pick(rng, vm, s, n_pts, cfg.balance, cache[v])
        ids[slot] = vm.points[pick]
        groups[slot] = group
        s_draw[slot] = s
    larger = s_draw[:, None] + (2.0 - s_draw[:, None]) * rng.random((n_views, n_pts))
    return ids, groups, np.repeat(s_draw[:, None], n_pts, 1), larger


def _draw_scale(rng, transform: ScaleTransform, fine_share: float) -> float:
    """One training scale: 0 (every point in its smallest mask) with
    probability ``fine_share``, else mostly a draw from this object's mask
    scales, one time in ten uniform on [0, 2]. The draws from the mask
    scales almost never fall below the smallest mask's scale (it is the
    distribution's minimum), so without the first case the finest level,
    which is what the slider shows at 0, is hardly ever trained."""
    r = rng.random()
    if r < fine_share:
        return 0.0
    if r < fine_share + 0.1:
        return float(rng.uniform(0, 2))
    return float(transform.sample(rng, 1)[0])


def _balanced_pick(rng, vm: ViewMasks, s: float, n: int, balance: float, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` of a view's points, each with weight 1 / (size of its group
    at scale ``s``) ** balance, so small parts get pairs too; returns the
    picked indices into ``vm.points`` and their groups. ``cache`` keeps this
    view's ``group_table`` and the draw weights per column of it."""
    if "table" not in cache:
        cache["table"] = group_table(vm.member, vm.scales)
    sorted_scales, table = cache["table"]
    key = int(np.count_nonzero(sorted_scales < s))  # masks below s
    if key not in cache:
        group = table[:, key]
        p = np.bincount(group + 1)[group + 1].astype(np.float64) ** -balance
        cache[key] = group, p / p.sum()
    group, p = cache[key]
    pick = rng.choice(len(group), size=n, replace=len(group) < n, p=p)
    return pick, group[pick]


def use_bfloat16(precision: str, device: str) -> bool:
    """Whether the fit's network runs in bfloat16 (``FieldConfig.precision``):
    'auto' takes it on a CPU whose vector units multiply bfloat16 natively
    (elsewhere it is emulated and slower than float32)."""
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"Unknown precision '{precision}': use auto, float32 or bfloat16.")
    if precision == "auto":
        return device == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return precision == "bfloat16"


def _pair_counts(groups: np.ndarray) -> tuple[int, int]:
    """(same-group, different-group) ordered pairs of distinct points inside
    each view, over the step's views; groups : (V, P), -1 for points no mask holds."""
    n_pos = n_neg = 0
    for row in groups:
        sizes = np.bincount(row[row >= 0])
        held, same = int(sizes.sum()), int((sizes * sizes).sum())
        n_pos += same - held
        n_neg += held * held - same
    return max(n_pos, 1), max(n_neg, 1)


def _pair_loss(model, inputs, bb, transform, ids, groups, s, larger, margin, device, half, counts):
    """Contrastive loss over pairs inside each view, divided by the step's
    pair ``counts`` (so the loss of a step's views cut in halves is the sum
    of the halves'). ids, groups, s, larger : (V, P) arrays; groups -1 marks
    points no mask holds. ``half`` runs the network in bfloat16; the distances
    and the loss stay float32. Both scales go through one pass of the network."""
    n_views, n_pts = ids.shape
    idx = torch.as_tensor(np.concatenate([ids.ravel(), ids.ravel()]), device=device)
    sub = {k: v[idx] for k, v in inputs.items()}
    b = None if bb is None else bb[idx]
    z = torch.as_tensor(transform(np.concatenate([s.ravel(), larger.ravel()])), device=device)[:, None]
    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=half):
        f, f_big = model(sub, b, z).float().view(2, n_views, n_pts, -1)
    g = torch.as_tensor(groups, device=device)
    valid = (g >= 0)[:, :, None] & (g >= 0)[:, None, :]
    same = g[:, :, None] == g[:, None, :]
    eye = torch.eye(n_pts, dtype=torch.bool, device=device)[None]
    pos = (valid & same & ~eye).float()
    neg = (valid & ~same).float()
    d = _distances(f)
    d_big = _distances(f_big)
    n_pos, n_neg = counts
    return ((d * pos).sum() + (d_big * pos).sum()) / n_pos + (F.relu(margin - d) * neg).sum() / n_neg


def _distances(f: torch.Tensor) -> torch.Tensor:
    """(V, P, P) Euclidean distances within each view, safe to differentiate at 0."""
    sq = (f * f).sum(-1)
    d2 = sq[:, :, None] + sq[:, None, :] - 2 * f @ f.transpose(1, 2)
    return torch.sqrt(d2.clamp(min=0) + 1e-8)


@torch.no_grad()
def field_features(model: ScaleField, transform: ScaleTransform, points: Points, scale: float,
                   backbone: np.ndarray | None = None, device: str = "cpu", inputs: dict | None = None) -> np.ndarray:
    """(N, D) float32 features of every sampled point at ``scale``, in float32
    whatever the fit's arithmetic (in bfloat16 the features move by up to 0.01,
    and PSB mesh 81 lost 0.13 mIoU with it)."""
    inputs = inputs if inputs is not None else model.encode(points, device)
    n = len(points)
    z = torch.full((n, 1), float(transform(scale)), device=device)
    bb = None if backbone is None else torch.as_tensor(backbone, device=device)
    return model(inputs, bb, z).cpu().numpy().astype(np.float32)
