"""The scale-conditioned feature field (DESIGN.md steps 5-7): two MLPs whose
L2-normalized outputs are summed, trained with GARField-style contrastive
pairs drawn within one view at a time.

Budget: instead of 23,040 pixels per step and a pair matrix over all of
them, each step draws a few views and a few hundred *points* per view (the
sampled points the view's pixels map to), one scale per view, and forms
pairs only inside each view (``pairs``). Points are drawn with weights that
favour small groups (``FieldConfig.balance``): with uniform draws a part
holding 1% of a view gets ~2 of 256 points, too few pairs to keep it apart
from its neighbours at fine scales. The draws, the loss and the update all
run on the fit's device, so a GPU fit never waits for the host."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtri
from torch import nn
from torch.optim.adamw import adamw

from .config import FieldConfig
from .masks import ViewMasks
from .pairs import Draw, MaskTables, draw, pair_counts, pair_loss
from .sampling import Points
from .scales import COARSEST

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
            scales = np.array([0.0, COARSEST])
        q = np.quantile(np.asarray(scales, np.float64), np.linspace(0, 1, _N_QUANTILES))
        q = q + np.arange(_N_QUANTILES) * 1e-6  # strictly increasing for interpolation
        return cls(q.astype(np.float32))

    def __call__(self, scale) -> np.ndarray:
        levels = np.clip(np.linspace(0, 1, _N_QUANTILES), 1e-3, 1 - 1e-3)
        return np.interp(np.asarray(scale, np.float64), self.quantiles, ndtri(levels)).astype(np.float32)


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
    digits) blur thin parts."""
    with torch.autocast(x.device.type, enabled=False):
        first = net[0](x)
    return F.normalize(net[1:](first).float(), dim=1)


def fit_field(points: Points, masks: list[ViewMasks], cfg: FieldConfig, backbone: np.ndarray | None = None,
              seed: int = 0, device: str = "cpu", progress=None, threads: int = 1) -> tuple[ScaleField, ScaleTransform]:
    """Train the field on one object's masks. Same seed, same result on one
    device (on a CPU whatever ``threads``). Its steps and points per view
    follow the object (``fit_size``); each step's pairs are drawn on the
    device (``pairs.draw``).

    backbone : (N, B) float32 per-point features or None
    progress : callable(fraction) or None
    threads : CPU threads to train on. On a CPU each step's views are cut
        in two halves whose gradients are summed; with two threads or more
        each half runs on its own thread, on one torch thread in bfloat16
        (its small products gain nothing from a second), on half the
        threads in float32: the halves do not wait for each other while
        they run, as intra-op threads do. On a GPU a step is one pass,
        captured once as a CUDA graph (``FieldConfig.cuda_graph``).
    """
    torch.manual_seed(seed)  # the network's first weights, the same on every device
    gen = torch.Generator(device=device).manual_seed(seed)
    usable = [m for m in masks if m.member.shape[1] and len(m.points) >= 2]
    transform = ScaleTransform.fit(np.concatenate([m.scales for m in masks]) if masks else np.zeros(0))
    model = ScaleField(cfg, 0 if backbone is None else backbone.shape[1]).to(device)
    if not usable:
        log.warning("no usable masks: the field stays untrained")
        return model.eval(), transform
    inputs = model.encode(points, device)
    bb = None if backbone is None else torch.as_tensor(backbone, device=device)
    steps, n_points = fit_size(usable, cfg)
    half = use_bfloat16(cfg.precision, device)
    tables = MaskTables.build(usable, transform.quantiles, device)
    params = list(model.parameters())
    opt = OneCycleAdamW(params, cfg.lr, steps)

    def gradients(d: Draw, counts) -> tuple[torch.Tensor, tuple]:
        loss = pair_loss(model, inputs, bb, tables, d, cfg.margin, half, counts)
        return loss, torch.autograd.grad(loss, params)

    def whole() -> tuple[torch.Tensor, tuple]:
        d = draw(tables, cfg, n_points, gen)
        return gradients(d, pair_counts(d.groups, tables.groups.shape[1]))

    log.info("field: %d steps of %d points a view, %s arithmetic on %s", steps, n_points,
             "bfloat16" if half else "float32", device)
    with _cpu_lanes(device, threads, half) as pool:
        if torch.device(device).type == "cpu":
            step = partial(_halves, gradients, lambda: draw(tables, cfg, n_points, gen), tables.groups.shape[1], pool)
        else:
            step = _captured(whole, gen) if cfg.cuda_graph and torch.device(device).type == "cuda" else whole
        for i in range(steps):
            loss, grads = step()
            opt.step(grads)
            if progress is not None and i % 20 == 0:
                progress(i / steps)
            if i % 100 == 0 and log.isEnabledFor(logging.DEBUG):
                log.debug("field step %d loss %.4f", i, loss.item())
    return model.eval(), transform


@contextmanager
def _cpu_lanes(device: str, threads: int, half: bool):
    """On a CPU, a thread for a step's second half of views (None with one
    thread) and the torch threads each half gets, given back after."""
    if torch.device(device).type != "cpu":
        yield None
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1 if half else max(threads // 2, 1))
    pool = ThreadPoolExecutor(1) if threads > 1 else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()
        torch.set_num_threads(before)


class OneCycleAdamW:
    """torch's AdamW update (``torch.optim.adamw.adamw``, default betas, eps
    and weight decay) under torch's one-cycle schedule (``OneCycleLR``'s
    defaults: cosine, 30 % rising, momentum cycled inversely), the same
    arithmetic as those two classes. They are not used themselves because
    their first call imports torch._dynamo: 1.3 s of a command on two CPU
    cores, 5-10 s on a GPU host's fresh start."""

    def __init__(self, params: list, max_lr: float, total_steps: int):
        self.params, self.max_lr, self.total = params, max_lr, total_steps
        self.fused = params[0].device.type != "cpu"  # one kernel for every tensor on a GPU
        self.moments = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
        self.steps = [torch.zeros((), device=p.device if self.fused else "cpu") for p in params]
        self.count = 0

    def schedule(self, step: int) -> tuple[float, float]:
        """(learning rate, beta1) at ``step``."""
        start, peak, end = self.max_lr / 25.0, self.max_lr, self.max_lr / 25.0 / 1e4
        turn = 0.3 * self.total - 1
        if step <= turn:
            pct, lr, momentum = step / turn, (start, peak), (0.95, 0.85)
        else:
            pct, lr, momentum = (step - turn) / (self.total - 1 - turn), (peak, end), (0.85, 0.95)

        def cos(a, b):
            return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)

        return cos(*lr), cos(*momentum)

    @torch.no_grad()
    def step(self, grads) -> None:
        lr, beta1 = self.schedule(self.count)
        self.count += 1
        adamw(self.params, list(grads), *self.moments, [], self.steps, foreach=not self.fused,
                                fused=self.fused, amsgrad=False, beta1=beta1, beta2=0.999, lr=lr,
                                weight_decay=0.01, eps=1e-8, maximize=False)


def _halves(gradients, draw_step, n_groups: int, pool) -> tuple[torch.Tensor, list]:
    """One CPU step: its views drawn, cut in two halves, their gradients
    computed side by side (on ``pool``'s thread and this one) and summed."""
    d = draw_step()
    counts = pair_counts(d.groups, n_groups)
    first, second = d.split()
    later = pool.submit(gradients, second, counts) if pool else None
    loss, grads = gradients(first, counts)
    loss2, grads2 = later.result() if later else gradients(second, counts)
    return loss + loss2, [g + g2 for g, g2 in zip(grads, grads2)]


def _captured(step, gen: torch.Generator):
    """``step`` (no arguments, returns tensors) recorded once as a CUDA graph:
    returns a function that replays it and returns the same output tensors,
    overwritten in place. Its many small kernels then launch as one. Falls
    back to ``step`` itself where the capture fails."""
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: library handles and workspaces, outside the graph
            for _ in range(2):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(gen)
        with torch.cuda.graph(graph):
            out = step()
    except (RuntimeError, AttributeError) as exc:
        log.warning("field: the step could not be captured as a CUDA graph (%s); running it as it is", exc)
        return step

    def replay():
        graph.replay()
        return out

    return replay


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


def use_bfloat16(precision: str, device: str) -> bool:
    """Whether the fit's network runs in bfloat16 (``FieldConfig.precision``):
    'auto' takes it on a CPU whose vector units multiply bfloat16 natively
    (elsewhere it is emulated and slower than float32)."""
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"Unknown precision '{precision}': use auto, float32 or bfloat16.")
    if precision == "auto":
        return device == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return precision == "bfloat16"


@torch.no_grad()
def field_features(model: ScaleField, transform: ScaleTransform, points: Points, scale: float,
                   backbone: np.ndarray | None = None, device: str = "cpu", inputs: dict | None = None) -> np.ndarray:
    """(N, D) float32 features of every sampled point at ``scale``, in float32
    whatever the fit's arithmetic (in bfloat16 they move by up to 0.01, enough
    to merge thin parts)."""
    inputs = inputs if inputs is not None else model.encode(points, device)
    n = len(points)
    z = torch.full((n, 1), float(transform(scale)), device=device)
    bb = None if backbone is None else torch.as_tensor(backbone, device=device)
    return model(inputs, bb, z).cpu().numpy().astype(np.float32)
