"""The SAM mask source on weights made here: a randomly initialized ViT-B,
saved to a temporary checkpoint and loaded back through the real loader."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

from core import sam, torchvision_standin
from core.config import MaskConfig, SegmentConfig
from core.loading import load_asset
from core.rendering import Camera, Renderer
from core.settings import load_settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def vit_b(tmp_path_factory):
    """(state dict, checkpoint path) of a randomly initialized SAM ViT-B."""
    torch.manual_seed(0)
    model = sam.SAM_BUILDERS["vit_b"]()
    state = model.state_dict()
    path = tmp_path_factory.mktemp("sam") / "sam_vit_b_random.pth"
    torch.save(state, path)
    yield state, str(path)


def offline_settings(tmp_path):
    """Settings with an empty cache and no PARTSCOPE_SAM_CHECKPOINT."""
    return dataclasses.replace(load_settings(), cache_dir=str(tmp_path / "cache"),
                               sam_checkpoint=None)


def test_registry_lists_the_official_checkpoints():
    assert set(sam.CHECKPOINTS) == set(sam.SAM_BUILDERS) == {"vit_h", "vit_l", "vit_b"}
    for name, entry in sam.CHECKPOINTS.items():
        assert entry.url.startswith("https://dl.fbaipublicfiles.com/segment_anything/sam_" + name)
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0


def test_random_vit_b_round_trips_strictly(vit_b):
    state, path = vit_b
    model = sam.build_sam("vit_b", path, "cpu")
    assert not model.training
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_wrapped_state_dict_loads(vit_b, tmp_path):
    state, _ = vit_b
    path = tmp_path / "wrapped.pth"
    torch.save({"model": state}, path)
    model = sam.build_sam("vit_b", str(path))
    key = "image_encoder.patch_embed.proj.weight"
    assert torch.equal(model.state_dict()[key], state[key])


def test_missing_key_fails_naming_it(vit_b, tmp_path):
    state, _ = vit_b
    missing = "mask_decoder.iou_token.weight"
    path = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if k != missing}, path)
    with pytest.raises(sam.SamCheckpointError, match=r"1 missing keys: mask_decoder\.iou_token\."):
        sam.build_sam("vit_b", str(path))


def test_extra_key_fails_naming_it(vit_b, tmp_path):
    state, _ = vit_b
    path = tmp_path / "extra.pth"
    torch.save({**state, "mask_decoder.bogus_head.weight": torch.zeros(3)}, path)
    with pytest.raises(sam.SamCheckpointError, match=r"1 unexpected keys: mask_decoder\.bogus"):
        sam.build_sam("vit_b", str(path))


def test_not_a_checkpoint_fails_clearly(tmp_path):
    path = tmp_path / "page.pth"
    path.write_text("<html>not found</html>")
    with pytest.raises(sam.SamCheckpointError, match="not a readable PyTorch checkpoint"):
        sam.build_sam("vit_b", str(path))


def test_environment_checkpoint_wins(tmp_path, monkeypatch):
    unreachable = sam.SamCheckpoint("http://127.0.0.1:9/x.pth", "0" * 64)
    monkeypatch.setitem(sam.CHECKPOINTS, "vit_b", unreachable)
    local = tmp_path / "mine.pth"
    local.write_bytes(b"weights")
    settings = dataclasses.replace(offline_settings(tmp_path), sam_checkpoint=str(local))
    assert sam.checkpoint_path("vit_b", settings) == str(local)
    settings = dataclasses.replace(settings, sam_checkpoint=str(tmp_path / "absent.pth"))
    with pytest.raises(sam.SamCheckpointError, match="PARTSCOPE_SAM_CHECKPOINT is set to"):
        sam.checkpoint_path("vit_b", settings)


def test_download_verifies_and_caches(tmp_path, monkeypatch):
    payload = b"not really weights" * 1000
    source = tmp_path / "served" / "tiny.pth"
    source.parent.mkdir()
    source.write_bytes(payload)
    monkeypatch.setitem(sam.CHECKPOINTS, "vit_b", sam.SamCheckpoint(
        source.as_uri(), hashlib.sha256(payload).hexdigest()))
    settings = offline_settings(tmp_path)
    path = sam.checkpoint_path("vit_b", settings)
    assert path == os.path.join(settings.cache_dir, "sam", "tiny.pth")
    assert open(path, "rb").read() == payload
    assert os.listdir(os.path.dirname(path)) == ["tiny.pth"]
    source.unlink()  # a second call must not download again
    assert sam.checkpoint_path("vit_b", settings) == path


def test_wrong_checksum_deletes_and_explains(tmp_path, monkeypatch):
    source = tmp_path / "served" / "tiny.pth"
    source.parent.mkdir()
    source.write_bytes(b"tampered")
    monkeypatch.setitem(sam.CHECKPOINTS, "vit_b", sam.SamCheckpoint(source.as_uri(), "0" * 64))
    settings = offline_settings(tmp_path)
    with pytest.raises(sam.SamCheckpointError) as err:
        sam.checkpoint_path("vit_b", settings)
    message = str(err.value)
    assert "has sha256" in message and "0" * 64 in message and "deleted" in message
    assert os.listdir(os.path.join(settings.cache_dir, "sam")) == []


def test_offline_says_what_to_do(tmp_path, monkeypatch):
    url = "http://127.0.0.1:9/x.pth"
    monkeypatch.setitem(sam.CHECKPOINTS, "vit_b", sam.SamCheckpoint(url, "0" * 64))
    settings = offline_settings(tmp_path)
    with pytest.raises(sam.SamCheckpointError) as err:
        sam.checkpoint_path("vit_b", settings)
    message = str(err.value)
    dest = os.path.join(settings.cache_dir, "sam", "x.pth")
    assert message.startswith(f"Could not download the SAM vit_b checkpoint from {url}")
    assert dest in message and "PARTSCOPE_SAM_CHECKPOINT" in message and "default masks" in message
    assert os.listdir(os.path.dirname(dest)) == []


def test_batched_nms_hand_checked():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10],
                          [0, 0, 10, 5]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.6])
    # IoU(0, 1) = 81 / 119 > 0.5; IoU(0, 4) = 0.5 exactly, not above: kept.
    # Box 3 equals box 0 but is another category, so both stay.
    keep = torchvision_standin.batched_nms(boxes, scores, torch.tensor([0, 0, 0, 1, 0]), 0.5)
    assert keep.dtype == torch.int64
    assert keep.tolist() == [3, 0, 2, 4]
    # One category: box 3 suppresses 0 and 1; box 4 (IoU 0.5 with 3) stays.
    assert torchvision_standin.batched_nms(boxes, scores, torch.zeros(5), 0.5).tolist() == [3, 2, 4]
    assert torchvision_standin.batched_nms(boxes, scores, torch.zeros(5), 0.4).tolist() == [3, 2]
    assert torchvision_standin.batched_nms(boxes[:0], scores[:0], torch.zeros(0), 0.5).tolist() == []
    assert torchvision_standin.box_area(boxes).tolist() == [100, 100, 100, 100, 50]


def _real_torchvision():
    try:
        from torchvision.ops import boxes as tv_boxes
    except Exception as exc:  # a broken CUDA build raises more than ImportError
        pytest.skip(f"torchvision is not usable here ({type(exc).__name__}): nothing to compare")
    return tv_boxes


def test_batched_nms_matches_torchvision():
    tv_boxes = _real_torchvision()
    gen = torch.Generator().manual_seed(0)
    for n in (50, 1500):  # both of torchvision's code paths (offsets, per-category loop)
        xy = torch.rand(n, 2, generator=gen) * 100
        boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=gen) * 40], dim=1)
        scores = torch.rand(n, generator=gen)
        idxs = torch.randint(0, 3, (n,), generator=gen)
        for thr in (0.3, 0.7):
            expected = tv_boxes.batched_nms(boxes, scores, idxs, thr)
            assert torchvision_standin.batched_nms(boxes, scores, idxs, thr).tolist() == expected.tolist()


def test_resize_is_pil_bilinear_as_in_torchvision():
    ResizeLongestSide = sam.import_segment_anything().utils.transforms.ResizeLongestSide
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 512, 3), dtype=np.uint8)
    out = ResizeLongestSide(1024).apply_image(image)
    expected = np.asarray(Image.fromarray(image).resize((1024, 600), Image.Resampling.BILINEAR))
    assert out.dtype == np.uint8 and out.shape == (600, 1024, 3)
    assert np.array_equal(out, expected)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    assert torchvision_standin.resize(tensor, (600, 1024)).shape == (3, 600, 1024)
    assert np.array_equal(np.asarray(torchvision_standin.to_pil_image(tensor)), image)


PROBE = """
import sys
from core import sam
sa = sam.import_segment_anything()
nms = sa.automatic_mask_generator.batched_nms
print("standin" if nms.__module__ == "core.torchvision_standin" else nms.__module__)
print(sorted(m for m in sys.modules if m.startswith("torchvision")))
"""


@pytest.mark.parametrize("init, used", [
    ("raise RuntimeError('operator torchvision::nms does not exist')", "standin"),
    ("", "torchvision.ops.boxes"),
], ids=["broken", "working"])
def test_torchvision_is_used_when_it_works(tmp_path, init, used):
    """A broken install gets the stand-in, removed again after the import;
    a working one is what segment_anything gets."""
    fake = tmp_path / "site" / "torchvision"
    for sub in ("", "ops", "transforms"):
        (fake / sub).mkdir(parents=True, exist_ok=True)
        (fake / sub / "__init__.py").write_text(init if not sub else "")
    (fake / "ops" / "boxes.py").write_text("def batched_nms(*a): pass\ndef box_area(b): pass\n")
    (fake / "transforms" / "functional.py").write_text(
        "def resize(*a): pass\ndef to_pil_image(*a): pass\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), REPO])}
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True)
    origin, modules = run.stdout.splitlines()
    assert origin == used
    if used == "standin":
        assert modules == "[]"


def test_no_masks_gives_an_empty_stack():
    assert sam._stack_by_area([], (5, 7)).shape == (0, 5, 7)


def two_boxes_view(tmp_path, resolution: int = 256):
    """One view of two differently colored, separated boxes."""
    a = trimesh.creation.box((1.0, 0.5, 0.5))
    a.apply_translation((-0.6, 0.0, 0.0))
    a.visual.face_colors = [200, 60, 60, 255]
    b = trimesh.creation.box((0.4, 0.8, 0.4))
    b.apply_translation((0.5, 0.0, 0.0))
    b.visual.face_colors = [60, 60, 200, 255]
    path = tmp_path / "two_boxes.glb"
    trimesh.Scene([a, b]).export(str(path))
    asset = load_asset(str(path))
    diagonal = float(np.linalg.norm(asset.mesh.extents))
    return Renderer(asset).render(Camera.orbit(30, 25, 1.39 * diagonal, resolution=resolution))


LOW_THRESHOLDS = MaskConfig(source="sam", sam_model="vit_b", sam_points_per_side=4,
                            sam_pred_iou_thresh=0.0, sam_stability_thresh=0.0)
"""Random weights predict poor masks: with no thresholds some still come out."""


def check_masks(masks: np.ndarray, resolution: int) -> None:
    assert masks.dtype == bool and masks.ndim == 3 and masks.shape[1:] == (resolution,) * 2
    assert len(masks) > 0
    areas = masks.sum(axis=(1, 2))
    assert (np.diff(areas) <= 0).all()


def sam_source(checkpoint: str, tmp_path, device: str = "cpu") -> sam.SamMasks:
    settings = dataclasses.replace(offline_settings(tmp_path), sam_checkpoint=checkpoint)
    return sam.SamMasks(SegmentConfig(masks=LOW_THRESHOLDS), settings, device)


def test_sam_masks_end_to_end(vit_b, tmp_path):
    _, checkpoint = vit_b
    view = two_boxes_view(tmp_path)
    assert (view.face >= 0).any() and (view.face < 0).any()
    source = sam_source(checkpoint, tmp_path)
    (masks,) = source.view_masks([view])
    check_masks(masks, 256)
    assert source.model is source.model  # loaded once, kept by the source
    assert not os.path.exists(source.settings.cache_dir)  # nothing was downloaded
    assert source.view_masks([]) == []


def test_batched_embeddings_give_the_masks_of_sams_own_generator(vit_b, tmp_path):
    """Two views embedded in one batch, then decoded view by view, give the
    masks SAM's own generator gives when it embeds each view itself."""
    _, checkpoint = vit_b
    views = [two_boxes_view(tmp_path, 128), two_boxes_view(tmp_path, 160)]
    model = sam.build_sam("vit_b", checkpoint, "cpu")
    predictor = sam.import_segment_anything().SamPredictor(model)
    together = sam.embed_images(model, predictor.transform, [v.color for v in views])
    for view, feature in zip(views, together):
        predictor.set_image(view.color)
        np.testing.assert_allclose(feature.numpy(), predictor.features[0].numpy(), atol=1e-4)
    batched = sam_source(checkpoint, tmp_path).view_masks(views)
    generator = sam.import_segment_anything().SamAutomaticMaskGenerator(
        model, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, output_mode="binary_mask")
    for view, masks in zip(views, batched):
        alone = sam._stack_by_area(generator.generate(view.color), view.color.shape[:2])
        assert masks.shape == alone.shape and (masks == alone).mean() > 0.999


@pytest.mark.gpu
def test_sam_masks_on_cuda(vit_b, tmp_path):
    _, checkpoint = vit_b
    source = sam_source(checkpoint, tmp_path, "cuda")
    (masks,) = source.view_masks([two_boxes_view(tmp_path)])
    check_masks(masks, 256)
    assert next(source.model.parameters()).is_cuda
    gen = torch.Generator().manual_seed(1)
    xy = torch.rand(300, 2, generator=gen) * 100
    boxes = torch.cat([xy, xy + 10 + torch.rand(300, 2, generator=gen) * 30], dim=1)
    scores, idxs = torch.rand(300, generator=gen), torch.randint(0, 2, (300,), generator=gen)
    on_cpu = torchvision_standin.batched_nms(boxes, scores, idxs, 0.5)
    on_cuda = torchvision_standin.batched_nms(boxes.cuda(), scores.cuda(), idxs, 0.5)
    assert on_cuda.is_cuda and on_cuda.cpu().tolist() == on_cpu.tolist()
