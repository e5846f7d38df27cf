"""Training pairs of the scale field (DESIGN.md step 7), drawn where the
model is.

Every view's masks are packed once into tensors on the fit's device
(``MaskTables``); each step then draws its views, scales, points and their
groups with torch operations alone (``draw``), so nothing goes back and
forth between the host and an accelerator and a GPU step can be captured
as one graph. Pairs are formed inside each view only (a block-diagonal
pair matrix), as the paper forms them inside each image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtri

from .config import FieldConfig
from .masks import ViewMasks, group_table
from .scales import COARSEST


@dataclass
class MaskTables:
    """The masks of every view as tensors on one device, laid out so that a
    step's draw is a few gathers.

    rows : (V, P) int64, flat row of each view's p-th visible point (0 on padding)
    point : (R,) int64, sampled point of each flat row
    groups : (R, C) int32, each row's ``group_table`` row (-1: no mask),
        C = 1 + the most masks of a view; row 0 pads views that see fewer
        points than the busiest
    sizes : (V, C, C) float32, points of each view in each group (+ 1, so
        index 0 counts the points no mask holds) at each column
    scales : (V, C - 1) float32, each view's sorted mask scales (inf on padding)
    quantiles, levels : (Q,) float32, the scale transform's knots: mask-scale
        quantiles and the standard normal values they map to
    """

    rows: torch.Tensor
    point: torch.Tensor
    groups: torch.Tensor
    sizes: torch.Tensor
    scales: torch.Tensor
    quantiles: torch.Tensor
    levels: torch.Tensor

    @classmethod
    def build(cls, masks: list[ViewMasks], quantiles: np.ndarray, device) -> "MaskTables":
        """Pack ``masks`` (each with at least one mask) for ``draw``."""
        width = max(len(m.points) for m in masks)
        n_columns = 1 + max(m.member.shape[1] for m in masks)
        rows = np.zeros((len(masks), width), np.int64)
        scales = np.full((len(masks), n_columns - 1), np.inf, np.float32)
        sizes = np.zeros((len(masks), n_columns, n_columns), np.float32)
        groups, start = [np.full((1, n_columns), -1, np.int32)], 1
        for v, m in enumerate(masks):
            sorted_scales, table = group_table(m.member, m.scales)
            table = np.pad(table, ((0, 0), (0, n_columns - table.shape[1])), constant_values=-1)
            cell = table + 1 + np.arange(n_columns) * n_columns  # (column, group) as one key
            sizes[v] = np.bincount(cell.ravel(), minlength=n_columns * n_columns).reshape(n_columns, n_columns)
            rows[v, :len(table)] = start + np.arange(len(table))
            scales[v, :len(sorted_scales)] = sorted_scales
            groups.append(table)
            start += len(table)
        levels = ndtri(np.clip(np.linspace(0, 1, len(quantiles)), 1e-3, 1 - 1e-3))
        point = np.concatenate([[0]] + [m.points for m in masks]).astype(np.int64)

        def put(a, dtype=None):
            return torch.as_tensor(np.asarray(a, dtype), device=device)

        return cls(put(rows), put(point), put(np.concatenate(groups)), put(sizes), put(scales),
                   put(quantiles, np.float32), put(levels, np.float32))

    def transform(self, scale: torch.Tensor) -> torch.Tensor:
        """Scales mapped to the network's input (``field.ScaleTransform``)."""
        return interp(scale, self.quantiles, self.levels)


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``np.interp`` in torch: piecewise linear through (xp, fp), xp
    increasing, constant past either end."""
    i = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1 = xp[i - 1], xp[i]
    t = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0)
    return fp[i - 1] + t * (fp[i] - fp[i - 1])


@dataclass
class Draw:
    """One step's draws, each (V, P): sampled point ids, their group at the
    view's scale (-1: no mask holds the point, it forms no pair), that scale,
    and a larger scale per point for the containment term."""

    ids: torch.Tensor
    groups: torch.Tensor
    scale: torch.Tensor
    larger: torch.Tensor

    def split(self) -> tuple["Draw", "Draw"]:
        """The even and the odd views, as two draws."""
        return tuple(Draw(*(t[k::2] for t in (self.ids, self.groups, self.scale, self.larger))) for k in (0, 1))


def draw(tables: MaskTables, cfg: FieldConfig, n_points: int, gen: torch.Generator) -> Draw:
    """``cfg.views_per_step`` views, a scale each (``draw_scales``), and
    ``n_points`` of each view's points without replacement, each with weight
    1 / (size of its group at that scale) ** ``cfg.balance``, so small parts
    get pairs too (a view seeing fewer points gives what it has)."""
    dev = tables.rows.device
    n_views = cfg.views_per_step
    view = torch.randint(len(tables.rows), (n_views,), generator=gen, device=dev)
    scale = draw_scales(tables, cfg.fine_share, n_views, gen)
    column = (tables.scales[view] < scale[:, None]).sum(dim=1)  # masks below the scale
    rows = tables.rows[view]
    cell = rows * tables.groups.shape[1] + column[:, None]
    group = tables.groups.view(-1)[cell].long()
    size = tables.sizes[view, column].gather(1, group + 1)
    weight = torch.where(rows > 0, size.pow(-cfg.balance), 0.0)  # row 0 pads
    # weighted draws without replacement: the largest log(u) / weight (Efraimidis and Spirakis)
    key = torch.rand(weight.shape, generator=gen, device=dev).log_().div_(weight)
    pick = key.topk(min(n_points, weight.shape[1]), dim=1).indices
    drawn = weight.gather(1, pick) > 0
    ids = tables.point[rows.gather(1, pick)]
    groups = torch.where(drawn, group.gather(1, pick), -1)
    u = torch.rand(pick.shape, generator=gen, device=dev)
    return Draw(ids, groups, scale[:, None].expand_as(u), scale[:, None] + (COARSEST - scale[:, None]) * u)


def draw_scales(tables: MaskTables, fine_share: float, n: int, gen: torch.Generator) -> torch.Tensor:
    """(n,) training scales: 0 (every point in its smallest mask) with
    probability ``fine_share``, else mostly a draw from this object's mask
    scales, one time in ten uniform on [0, COARSEST]. The draws from the mask
    scales almost never fall below the smallest mask's scale (it is the
    distribution's minimum), so without the first case the finest level,
    which is what the slider shows at 0, is hardly ever trained."""
    r, u = torch.rand((2, n), generator=gen, device=tables.rows.device)
    knots = torch.linspace(0, 1, len(tables.quantiles), device=u.device)
    from_masks = interp(u, knots, tables.quantiles)
    return torch.where(r < fine_share, 0.0, torch.where(r < fine_share + 0.1, COARSEST * u, from_masks))


def pair_counts(groups: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(same-group, different-group) ordered pairs of distinct points inside
    each view, over all views (at least 1 each); groups : (V, P) in
    0 .. n_groups - 1, or -1 for points that form no pair."""
    held = groups >= 0
    sizes = torch.zeros(groups.shape[0], n_groups + 1, device=groups.device).scatter_add_(
        1, groups.long() + 1, torch.ones(groups.shape, device=groups.device))[:, 1:]
    n_held = held.sum(dim=1).float()
    same = (sizes * sizes).sum(dim=1)
    return (same - n_held).sum().clamp_min(1.0), (n_held * n_held - same).sum().clamp_min(1.0)


def pair_loss(model, inputs: dict, backbone, tables: MaskTables, d: Draw, margin: float, half: bool,
              counts: tuple) -> torch.Tensor:
    """Contrastive loss over the pairs inside each view of ``d``, divided by
    the step's pair ``counts`` (so the losses of a step's views cut in
    halves add up to the whole step's): same group, close at the drawn scale
    and at the larger one (containment); different groups, at least
    ``margin`` apart at the drawn scale. Both scales go through one pass of
    the network; ``half`` runs it in bfloat16, the distances and the loss
    stay float32."""
    n_views, n_pts = d.ids.shape
    idx = torch.cat([d.ids.reshape(-1), d.ids.reshape(-1)])
    z = tables.transform(torch.cat([d.scale.reshape(-1), d.larger.reshape(-1)]))[:, None]
    sub = {k: v[idx] for k, v in inputs.items()}
    with torch.autocast(idx.device.type, dtype=torch.bfloat16, enabled=half):
        f, f_big = model(sub, None if backbone is None else backbone[idx], z).float().view(2, n_views, n_pts, -1)
    g = d.groups
    valid = (g >= 0)[:, :, None] & (g >= 0)[:, None, :]
    same = g[:, :, None] == g[:, None, :]
    eye = torch.eye(n_pts, dtype=torch.bool, device=g.device)[None]
    pos = (valid & same & ~eye).float()
    neg = (valid & ~same).float()
    n_pos, n_neg = counts
    near = distances(f)
    return ((near + distances(f_big)) * pos).sum() / n_pos + (F.relu(margin - near) * neg).sum() / n_neg


def distances(f: torch.Tensor) -> torch.Tensor:
    """(V, P, P) Euclidean distances within each view, safe to differentiate at 0."""
    sq = (f * f).sum(-1)
    d2 = sq[:, :, None] + sq[:, None, :] - 2 * f @ f.transpose(1, 2)
    return torch.sqrt(d2.clamp(min=0) + 1e-8)
