"""Boxes, pre/post-processing, the batched predictor, and ONNX export of the analytic graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hotspot_core.hotspots.analytic import HotspotGraph
from hotspot_core.hotspots.model import build_model
from hotspot_core.image.boxes import Roi, boxes_touch, center_size_to_xyxy, pad_and_clamp
from hotspot_core.image.postprocess import normalise_maps, peaks_in_image, upsample
from hotspot_core.predictor import HotspotPredictor, resolve_device

ACTIONS = ["hold", "rotate", "push"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64}).eval()


def test_pad_and_clamp():
    assert pad_and_clamp((10, 20, 30, 60), 0.1, 100, 100) == Roi(8, 16, 32, 64)
    assert pad_and_clamp((-50, -50, 40, 30), 0.0, 100, 100) == Roi(0, 0, 40, 30)
    assert pad_and_clamp((90, 90, 200, 200), 0.5, 100, 100) == Roi(35, 35, 100, 100)
    assert pad_and_clamp((150, 10, 180, 40), 0.0, 100, 100) is None  # outside the image
    assert pad_and_clamp((10, 10, 10, 40), 0.2, 100, 100) is None  # zero width
    assert pad_and_clamp((10, 10, float("nan"), 40), 0.2, 100, 100) is None
    assert pad_and_clamp((10, 10, 12, 12), 0.0, 100, 100, min_size=4) is None
    assert center_size_to_xyxy(50, 40, 20, 10) == (40, 35, 60, 45)
    assert boxes_touch((0, 0, 10, 10), (9, 9, 20, 20)) and not boxes_touch((0, 0, 10, 10), (12, 0, 20, 10))
    assert boxes_touch((0, 0, 10, 10), (12, 0, 20, 10), margin=3)


def test_normalise_and_peaks():
    maps = np.zeros((2, 4, 4), np.float32)
    maps[0, 1, 2] = 8.0
    maps[1, 0, 0] = np.nan
    normed, maxima = normalise_maps(maps)
    assert maxima.tolist() == [8.0, 0.0] and normed.max() == 1.0 and np.isfinite(normed).all()
    peaks = peaks_in_image(normed, Roi(100, 50, 140, 90), refine=1)
    # cell (row 1, col 2) of a 4x4 grid over a 40x40 ROI has its centre at (100 + 25, 50 + 15)
    assert peaks[0].tolist() == [125.0, 65.0, 1.0]
    up = upsample(normed[0], 8, 8)
    assert up.shape == (8, 8) and np.unravel_index(up.argmax(), up.shape) in {(2, 4), (2, 5), (3, 4), (3, 5)}


def test_predictor_batches_all_crops(model):
    predictor = HotspotPredictor(model, device="cpu")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    rois = [Roi(0, 0, 60, 50), Roi(80, 40, 160, 120)]
    out = predictor.predict(image, rois)
    assert len(out) == 2 and predictor.map_size == 8
    for obj, roi in zip(out, rois):
        assert obj.roi == roi and obj.maps.shape == (3, 8, 8) and obj.action_indices.tolist() == [0, 1, 2]
        assert abs(obj.scores.sum() - 1) < 1e-5 and obj.maps.max() <= 1.0
        assert (roi.x0 <= obj.peaks[:, 0]).all() and (obj.peaks[:, 0] <= roi.x1).all()
        assert (roi.y0 <= obj.peaks[:, 1]).all() and (obj.peaks[:, 1] <= roi.y1).all()
    # the same crop alone gives the same result as inside the batch
    alone = predictor.predict(image, rois[1:])[0]
    assert np.allclose(alone.maps, out[1].maps, atol=1e-4) and np.allclose(alone.scores, out[1].scores, atol=1e-5)
    assert predictor.predict(image, []) == []


def test_top_k_maps_follow_scores(model):
    top = HotspotPredictor(model, device="cpu", top_k=2)
    full = HotspotPredictor(model, device="cpu")
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    a = top.predict(image, [Roi(0, 0, 64, 64)])[0]
    b = full.predict(image, [Roi(0, 0, 64, 64)])[0]
    order = np.argsort(-b.scores)[:2]
    assert a.action_indices.tolist() == order.tolist()
    assert np.allclose(a.maps, b.maps[order], atol=1e-4)
    with pytest.raises(ValueError, match="top_k"):
        HotspotGraph(model, top_k=9)


def test_cuda_request_without_gpu_is_an_error():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


def test_analytic_graph_exports_to_onnx(model, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    graph = HotspotGraph(model).eval()
    images = torch.randn(2, 3, 64, 64)
    path = tmp_path / "hotspots.onnx"
    torch.onnx.export(
        graph,
        (images,),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["images"],
        output_names=["logits", "actions", "maps"],
        dynamic_axes={"images": {0: "n"}, "logits": {0: "n"}, "actions": {0: "n"}, "maps": {0: "n"}},
    )
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = torch.randn(3, 3, 64, 64)
    logits, _, maps = session.run(None, {"images": batch.numpy()})
    with torch.no_grad():
        ref_logits, _, ref_maps = graph(batch)
        autograd_maps = model.hotspot_maps(model.features(batch), method="autograd")
    assert np.allclose(logits, ref_logits.numpy(), atol=1e-4)
    assert np.abs(maps - autograd_maps.numpy()).max() / np.abs(autograd_maps.numpy()).max() < 1e-4
    assert np.abs(maps - ref_maps.numpy()).max() / np.abs(ref_maps.numpy()).max() < 1e-4
