"""Ray-cast views of an asset (embree through embreex): per pixel the shaded
color, the face id (-1 background) and the depth (method.md §2)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .config import RenderConfig
from .loading import Asset
from .looks import cut_out, surface_color
from .rays import ray_scene
from .sampling import face_normals

BACKGROUND = 255
#: Cut-out texels a ray passes through before it stops where it is
MAX_CUT_OUTS = 8


@dataclass
class Camera:
    """A pinhole camera looking at the origin, y up.

    position : (3,) float64
    rotation : (3, 3) float64, columns are right, up, backward (world frame)
    fov_deg : float, horizontal = vertical field of view
    resolution : int, width = height in pixels
    """

    position: np.ndarray
    rotation: np.ndarray
    fov_deg: float
    resolution: int

    @classmethod
    def orbit(cls, azimuth_deg: float, elevation_deg: float, distance: float,
              fov_deg: float = 39.6, resolution: int = 512) -> "Camera":
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
        back = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        up_hint = np.array([0.0, 1.0, 0.0]) if abs(back[1]) < 0.999 else np.array([0.0, 0.0, -1.0])
        right = np.cross(up_hint, back)
        right /= np.linalg.norm(right)
        up = np.cross(back, right)
        return cls(back * distance, np.stack([right, up, back], axis=1), fov_deg, resolution)

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return self.resolution / 2 / math.tan(math.radians(self.fov_deg) / 2)

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """(H*W, 3) float32 origins and unit directions, row-major from the top-left."""
        n = self.resolution
        coord = (np.arange(n) + 0.5 - n / 2) / self.focal
        x, y = np.meshgrid(coord, -coord)
        d = np.stack([x.ravel(), y.ravel(), -np.ones(n * n)], axis=1) @ self.rotation.T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return np.broadcast_to(self.position, d.shape).astype(np.float32), d.astype(np.float32)

    def project(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) float pixel coordinates (col, row) and (n,) depth of world points."""
        local = (np.asarray(xyz, np.float64) - self.position) @ self.rotation
        depth = -local[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            col = local[:, 0] / depth * self.focal + self.resolution / 2
            row = -local[:, 1] / depth * self.focal + self.resolution / 2
        return np.stack([col, row], axis=1), depth


@dataclass
class View:
    """One rendered view.

    camera : Camera
    color : (H, W, 3) uint8, shaded, background white
    face : (H, W) int32, face id, -1 background
    depth : (H, W) float32, distance along the camera axis, inf background
    """

    camera: Camera
    color: np.ndarray
    face: np.ndarray
    depth: np.ndarray

    def points(self) -> np.ndarray:
        """(H, W, 3) float32 world position seen by each pixel (NaN background)."""
        origins, dirs = self.camera.rays()
        axis_cos = -(dirs.astype(np.float64) @ self.camera.rotation[:, 2])
        t = self.depth.ravel() / axis_cos
        xyz = origins + dirs * t[:, None]
        xyz[self.face.ravel() < 0] = np.nan
        return xyz.reshape(self.face.shape + (3,)).astype(np.float32)


def reference_cameras(cfg: RenderConfig, diagonal: float) -> list[Camera]:
    """The reference layout: half the views above at elevations alternating
    25/40 deg over evenly spaced azimuths, the other half the same below."""
    upper = math.ceil(cfg.n_views / 2)
    distance = cfg.distance * diagonal
    cams = []
    for i in range(cfg.n_views):
        k = i % upper
        sign = 1 if i < upper else -1
        elevation = sign * (25.0 if k % 2 == 0 else 40.0)
        cams.append(Camera.orbit(k * 360.0 / upper, elevation, distance, cfg.fov_deg, cfg.resolution))
    return cams


class Renderer:
    """Holds the ray-tracing scene of one asset; renders any camera."""

    def __init__(self, asset: Asset):
        self.asset = asset
        self.normals = face_normals(asset.mesh.vertices, asset.mesh.faces).astype(np.float32)
        self.scene = ray_scene(asset.mesh.vertices, asset.mesh.faces)
        # textures with cut-out texels (alphaMode MASK), which a ray goes through as the viewer shows them
        self.cut_outs = [t for t, image in enumerate(asset.textures) if (image[..., 3] < 128).any()]

    def render(self, camera: Camera, shade: bool = True) -> View:
        origins, dirs = camera.rays()
        hit = self._hit(origins, dirs)
        n = camera.resolution
        face = hit["primID"].astype(np.int32)
        face[hit["geomID"] < 0] = -1
        valid = face >= 0
        axis_cos = -(dirs @ camera.rotation[:, 2].astype(np.float32))
        depth = np.full(n * n, np.inf, np.float32)
        depth[valid] = hit["tfar"][valid] * axis_cos[valid]
        color = np.full((n * n, 3), BACKGROUND, np.uint8)
        if valid.any():
            u, v = hit["u"][valid], hit["v"][valid]
            bary = np.stack([1 - u - v, u, v], axis=1)
            base = surface_color(self.asset, face[valid], bary).astype(np.float32)
            if shade:
                lambert = np.abs(np.einsum("nc,nc->n", self.normals[face[valid]], dirs[valid]))
                base *= (0.35 + 0.65 * lambert)[:, None]
            color[valid] = np.clip(base, 0, 255).astype(np.uint8)
        return View(camera, color.reshape(n, n, 3), face.reshape(n, n), depth.reshape(n, n))

    def _hit(self, origins: np.ndarray, dirs: np.ndarray) -> dict:
        """The first hit of each ray that is not on a cut-out texel (up to
        MAX_CUT_OUTS of them passed through; tfar from the ray's origin)."""
        hit = self.scene.run(origins, dirs, output=1)
        if not self.cut_outs:
            return hit
        hit = {key: np.array(value) for key, value in hit.items()}
        todo = np.arange(len(origins))
        for _ in range(MAX_CUT_OUTS):
            todo = todo[hit["geomID"][todo] >= 0]
            u, v = hit["u"][todo], hit["v"][todo]
            clear = cut_out(self.asset, hit["primID"][todo], np.stack([1 - u - v, u, v], axis=1), self.cut_outs)
            todo = todo[clear]
            if not len(todo):
                break
            start = hit["tfar"][todo] * (1 + 1e-5) + 1e-6
            again = self.scene.run(origins[todo] + dirs[todo] * start[:, None], dirs[todo], output=1)
            again["tfar"] = again["tfar"] + start
            for key, value in again.items():
                hit[key][todo] = value
        return hit

    def render_all(self, cameras: list[Camera], workers: int = 1) -> list[View]:
        """Every camera's view, ``workers`` views at a time on threads."""
        if workers <= 1:
            return [self.render(c) for c in cameras]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self.render, cameras))


def render_views(asset: Asset, cfg: RenderConfig, workers: int = 1) -> list[View]:
    """Render the reference layout of ``cfg.n_views`` views, ``workers`` at a time."""
    diagonal = float(np.linalg.norm(asset.mesh.extents))
    return Renderer(asset).render_all(reference_cameras(cfg, diagonal), workers)
