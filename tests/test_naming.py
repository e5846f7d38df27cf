"""Part naming against a real chat-completions server on 127.0.0.1 (tests/fake_llm.py).

The object is a table built here: a top, four legs and a block hidden inside
the top, with known face labels. The fake names a part only when the orange
pixels of the request's image match that part's pixels, rendered here from
the camera core.naming chose for it.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import trimesh

from core.loading import load_asset
from core.llm import (
    HOW_TO_ENABLE, MalformedAnswer, NameResult, NamingUnavailable, OutsideLabelSet, Refusal, match_label,
    parse_name, redact)
from core.naming import name_parts, semantic_labels, write_names
from core.naming_views import CanonicalViews, canonical_cameras, render_canonical
from core.rendering import Renderer
from core.settings import Settings
from fake_llm import FakeLLM, iou

KEY = "sk-test-Zq8HvP3kLm2Wx9TnB4rY"
PARTS = ["table top", "front left leg", "front right leg", "back left leg", "back right leg",
         "hidden block"]
HIDDEN = 5


def _table(path) -> np.ndarray:
    """Write the table to ``path`` (PLY); return its (F,) int32 face labels.

    The legs differ in thickness so that no two parts look alike from the
    views chosen for them (a symmetric table's back leg seen from behind is
    its front leg seen from the front).
    """
    boxes = [((1.0, 0.08, 0.6), (0.0, 0.5, 0.0))]
    corners = [(-0.42, 0.24), (0.42, 0.24), (-0.42, -0.24), (0.42, -0.24)]
    for (x, z), width in zip(corners, (0.045, 0.065, 0.085, 0.105)):
        boxes.append(((width, 0.46, width), (x, 0.23, z)))
    boxes.append(((0.2, 0.02, 0.2), (0.0, 0.5, 0.0)))
    move = trimesh.transformations.translation_matrix
    meshes = [trimesh.creation.box(extents=e, transform=move(c)) for e, c in boxes]
    trimesh.util.concatenate(meshes).export(path)
    return np.repeat(np.arange(len(meshes), dtype=np.int32), [len(m.faces) for m in meshes])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "table.ply"
    labels = _table(str(path))
    asset = load_asset(str(path))
    assert asset.n_faces == len(labels)
    return asset, labels


@pytest.fixture(scope="module")
def renders(table):
    """The canonical views, rendered once for the tests that pass them in."""
    return render_canonical(table[0])


@pytest.fixture(scope="module")
def expected(table, renders):
    """Per part name: its pixels and every part's pixels (label image), both
    rendered afresh from the camera core.naming chose for that part."""
    asset, labels = table
    views = CanonicalViews(renders, labels)
    renderer = Renderer(asset)
    out = {}
    for p, name in enumerate(PARTS):
        camera = views.camera(p)
        if camera is None:
            continue
        face = renderer.render(camera).face
        label_image = np.where(face >= 0, labels[np.maximum(face, 0)], -1)
        out[name] = (label_image == p, label_image)
    masks = [mask for mask, _ in out.values()]
    for i, a in enumerate(masks):
        assert all(iou(a, b) < 0.85 for b in masks[i + 1:]), "parts must be told apart by shape"
    return out


@pytest.fixture
def fake(expected):
    with FakeLLM(part_masks={name: mask for name, (mask, _) in expected.items()},
                 echo_key=KEY) as server:
        yield server


@pytest.fixture
def settings_for(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def make(base_url):
        return Settings(cache_dir=str(tmp_path / "cache"), device="cpu", sam_checkpoint=None,
                        openai_base_url=base_url, llm_model="fake-vision", max_upload_mb=50)
    return make


def test_names_every_part_with_the_right_highlight(table, fake, settings_for, expected):
    asset, labels = table
    seen = []
    results = name_parts(asset, labels, settings_for(fake.base_url),
                         on_result=lambda p, r: seen.append(p))
    assert list(results) == list(range(len(PARTS)))
    assert {p: r.name for p, r in results.items() if p != HIDDEN} == {
        p: name for p, name in enumerate(PARTS) if p != HIDDEN}
    assert results[HIDDEN].name is None and "hidden" in results[HIDDEN].error
    assert sorted(seen) == list(range(len(PARTS)))

    first, parts = fake.requests[0], fake.part_requests()
    assert first.kind == "object" and len(fake.requests) == 1 + len(PARTS) - 1
    assert all(first.finished <= r.started for r in parts), "the object question goes first"
    for r in parts:
        assert "The object is: table." in r.texts[-1]
        mask, label_image = expected[r.part]
        assert r.mask.shape == mask.shape
        assert r.iou > 0.9, (r.part, r.iou)
        others = (label_image >= 0) & ~mask
        assert np.count_nonzero(r.mask & others) <= 0.01 * np.count_nonzero(r.mask), r.part
    assert sorted(r.part for r in parts) == sorted(PARTS[:HIDDEN])


def test_each_part_is_shown_where_it_covers_the_most_pixels(table, renders):
    asset, labels = table
    views = CanonicalViews(renders, labels)
    cameras = canonical_cameras(asset)
    assert len(renders) == len(cameras) == 12
    counts = []
    for view, camera in zip(renders, cameras):
        assert np.allclose(view.camera.position, camera.position)
        face = view.face
        counts.append(np.bincount(labels[face[face >= 0]], minlength=len(PARTS)))
    counts = np.array(counts)
    for p in range(HIDDEN):
        assert counts[views.best_view(p), p] == counts[:, p].max() > 0
    assert views.best_view(HIDDEN) is None and counts[:, HIDDEN].max() == 0


def test_concurrency_is_bounded(table, renders, fake, settings_for):
    asset, labels = table
    fake.delay = 0.2
    results = name_parts(asset, labels, settings_for(fake.base_url), max_workers=2, cache=False,
                         views=renders)
    assert sum(r.ok for r in results.values()) == 5
    assert fake.max_in_flight == 2


def test_failures_are_per_part_and_never_raise(table, renders, fake, settings_for):
    asset, labels = table
    fake.slow_seconds = 4.0
    fake.part_modes = {"front left leg": "slow", "front right leg": "garbage",
                       "back left leg": "429", "back right leg": "refusal"}
    results = name_parts(asset, labels, settings_for(fake.base_url), timeout=1.0, cache=False,
                         views=renders)
    assert results[0] == NameResult(name="table top")
    assert "did not answer within 1 s" in results[1].error
    assert "not a short name" in results[2].error and "sure! the highlighted" in results[2].error
    assert "rate-limiting" in results[3].error and "429" in results[3].error
    assert results[4].error == "The model declined to name this part."
    assert all(results[p].name is None for p in (1, 2, 3, 4))
    attempts = [r for r in fake.part_requests() if r.part == "back left leg"]
    assert len(attempts) == 2, "a rate limit is retried once"


def test_parts_are_named_when_the_object_question_fails(table, renders, fake, settings_for):
    asset, labels = table
    fake.object_name = "Sure! It looks like a wooden table."
    results = name_parts(asset, labels, settings_for(fake.base_url), part_ids=[0, 1],
                         cache=False, views=renders)
    assert results == {0: NameResult(name="table top"), 1: NameResult(name="front left leg")}
    assert all("The object is" not in r.texts[-1] for r in fake.part_requests())


def test_a_server_that_is_not_chat_completions(table, renders, fake, settings_for):
    asset, labels = table
    fake.part_modes = {"front left leg": "not_json"}
    results = name_parts(asset, labels, settings_for(fake.base_url), part_ids=[1, 2],
                         cache=False, views=renders)
    assert "not a chat completion" in results[1].error and "/v1" in results[1].error
    assert results[2] == NameResult(name="front right leg")


def test_second_run_is_free_and_errors_are_not_cached(table, renders, fake, settings_for):
    asset, labels = table
    settings = settings_for(fake.base_url)
    fake.part_modes = {"table top": "garbage"}
    first = name_parts(asset, labels, settings, views=renders)
    assert first[0].error and sum(r.ok for r in first.values()) == 4
    n = len(fake.requests)

    fake.part_modes = {}
    second = name_parts(asset, labels, settings, views=renders)
    assert second[0].name == "table top"
    assert [r.part for r in fake.requests[n:]] == ["table top"], "only the failed part again"
    assert all(second[p] == first[p] for p in (1, 2, 3, 4))

    n = len(fake.requests)
    arrived = []
    third = name_parts(asset, labels, settings, part_ids=[4, 0], views=renders,
                       on_result=lambda p, r: arrived.append(p))
    assert len(fake.requests) == n, "a cached run sends no request"
    assert list(third) == [4, 0] and arrived == [4, 0]
    assert third[0].name == "table top"

    other_model = Settings(**{**settings.__dict__, "llm_model": "another-model"})
    name_parts(asset, labels, other_model, part_ids=[0], views=renders)
    assert len(fake.requests) == n + 2, "the model is part of the cache key"


def test_missing_key_says_how_to_enable(table, settings_for, monkeypatch):
    asset, labels = table
    monkeypatch.delenv("OPENAI_API_KEY")
    for url in (None, "https://api.openai.com/v1"):
        with pytest.raises(NamingUnavailable) as info:
            name_parts(asset, labels, settings_for(url))
        assert str(info.value) == HOW_TO_ENABLE
        assert "OPENAI_API_KEY" in HOW_TO_ENABLE and "OPENAI_BASE_URL" in HOW_TO_ENABLE
        assert "PARTSCOPE_LLM_MODEL" in HOW_TO_ENABLE


def test_local_server_needs_no_key(table, renders, fake, settings_for, monkeypatch):
    asset, labels = table
    monkeypatch.delenv("OPENAI_API_KEY")
    results = name_parts(asset, labels, settings_for(fake.base_url), part_ids=[0],
                         views=renders)
    assert results == {0: NameResult(name="table top")}
    assert {r.authorization for r in fake.requests} == {"Bearer EMPTY"}


def test_key_never_leaks(table, renders, fake, settings_for, caplog, tmp_path):
    asset, labels = table
    caplog.set_level(logging.DEBUG)
    settings = settings_for(fake.base_url)
    fake.part_modes = {"table top": "unauthorized", "front left leg": "echo"}
    results = name_parts(asset, labels, settings, views=renders)
    assert "refused the API key (HTTP 401)" in results[0].error
    assert results[1].error.startswith("The model server rejected the request (HTTP 400): Invalid")
    assert {r.authorization for r in fake.requests} == {f"Bearer {KEY}"}, "the key was in use"
    names_path = write_names(results, str(tmp_path / "names.json"))

    fragments = [KEY, KEY[-4:], KEY[:6] + "*", KEY[8:16]]
    texts = [caplog.text, repr(results), str(results[0].error)]
    for root, _, files in os.walk(settings.cache_dir):
        texts += [open(os.path.join(root, f), "rb").read().decode("latin-1") for f in files]
    texts.append(open(names_path, encoding="utf-8").read())
    for text in texts:
        for fragment in fragments:
            assert fragment not in text


def test_names_from_a_label_set_give_per_face_semantic_labels(table, renders, fake, settings_for):
    """The prompt lists the allowed names; answers are matched to them without
    case, '_'/'-' or a plural 's'; one outside the set is pointed out once,
    then becomes an error; faces of unnamed parts get -1."""
    asset, labels = table
    allowed = ["Table Top", "front_left_leg", "Front Right Leg", "back left legs", "Back-Right-Leg",
               "drawer"]
    fake.part_modes = {"front right leg": "outside_once", "back right leg": "garbage"}
    results = name_parts(asset, labels, settings_for(fake.base_url), cache=False, views=renders,
                         label_set=allowed)
    assert {p: r.name for p, r in results.items()} == {
        0: "Table Top", 1: "front_left_leg", 2: "Front Right Leg", 3: "back left legs", 4: None, 5: None}
    assert "not one of the allowed names" in results[4].error and "Sure! The highlighted" in results[4].error
    for r in fake.part_requests():
        assert '"Table Top", "front_left_leg"' in r.texts[1] and '"drawer"' in r.texts[1]
    asked = [r for r in fake.part_requests() if r.part == "front right leg"]
    assert len(asked) == 2 and "'gizmo' is not one of the allowed names" in asked[1].texts[-1]
    np.testing.assert_array_equal(semantic_labels(labels, results, allowed),
                                  np.array([0, 1, 2, 3, -1, -1])[labels])


def test_match_label():
    labels = ["Leg", "arm_rest", "seat back", "wheel"]
    assert match_label("leg", labels) == "Leg"
    assert match_label('"Arm rest".', labels) == "arm_rest"
    assert match_label("seat-back", labels) == "seat back"
    assert match_label("Wheels", labels) == "wheel"
    for bad in ["legs of the chair", "armrest", "cushion"]:
        with pytest.raises(OutsideLabelSet):
            match_label(bad, labels)
    with pytest.raises(Refusal):
        match_label("Sorry, I cannot tell.", labels)


def test_parse_name():
    assert parse_name("Wheel") == "wheel"
    assert parse_name("  Left  front\nleg. ") == "left front leg"
    assert parse_name('"lamp shade"') == "lamp shade"
    assert parse_name("t-shirt sleeve 2") == "t-shirt sleeve 2"
    assert parse_name("rückspiegel") == "rückspiegel"
    for bad in ["", "   ", "name: wheel", "a b c d e f", "wheel, tire", "**wheel**",
                "the left wheel of the car.", "wheel\n- tire", "x" * 61, "wheel!", "foo_bar",
                "a--b"]:
        with pytest.raises(MalformedAnswer):
            parse_name(bad)
    with pytest.raises(Refusal):
        parse_name("I'm sorry, I can't help with that.")


def test_redact():
    message = f"Incorrect API key provided: {KEY[:6]}{'*' * 20}{KEY[-4:]}. See docs."
    clean = redact(message, KEY)
    assert KEY[-4:] not in clean and "****" not in clean and clean.endswith("See docs.")
    assert KEY not in redact(f"bad key {KEY}!", KEY)
    assert KEY[5:15] not in redact(f"token {KEY[5:15]} rejected", KEY)
    assert redact("model not found", KEY) == "model not found"


def test_write_names(tmp_path):
    path = write_names({2: "leg", 10: NameResult(name="top"), 1: NameResult(error="x")},
                       str(tmp_path / "names.json"))
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == {"1": None, "2": "leg", "10": "top"}


def test_bad_labels_raise(table, settings_for, fake):
    asset, labels = table
    settings = settings_for(fake.base_url)
    with pytest.raises(ValueError, match="shape"):
        name_parts(asset, labels[:-1], settings)
    with pytest.raises(ValueError, match="label no face"):
        name_parts(asset, labels, settings, part_ids=[0, 9])
    assert not fake.requests
