"""Inference backends: parity with torch float32, top-k, ONNX export metadata, the TensorRT engine cache.

Error bounds (max |backend - torch fp32| / max |torch fp32| over the batch, random weights and inputs):
fp32 backends 1e-4 on maps and logits; fp16 Convs 2e-2; bf16 5e-2; int8 Q/DQ Convs 1e-1 on maps, 5e-2 on
logits (measured here: ~1e-6, ~5e-3..8e-3, ~2e-2, ~3e-2). CUDA and TensorRT tests skip cleanly where absent; the engine cache is tested with a fake builder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from hotspot_core.backends import BACKEND_NAMES, BackendOptions, backend_class, create_backend
from hotspot_core.backends.engine_cache import EngineCache, EngineKey
from hotspot_core.backends.onnx_contract import check_matches_model, read_metadata
from hotspot_core.errors import BackendError
from hotspot_core.hotspots.model import build_model

ACTIONS = ["hold", "rotate", "push", "pull", "cut"]
BOUNDS = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2, "int8": 1e-1}


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 32})
    g = torch.Generator().manual_seed(1)
    for bn in (m.project[1], m.project[4]):  # non-trivial BatchNorm statistics, so folding is exercised
        c = bn.num_features
        bn.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        bn.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return m.eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def reference(model, images):
    return create_backend("torch", model, "cpu", options={"precision": "fp32"}).run(images).numpy()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hotspot_cache")


@pytest.fixture(scope="module")
def top2_onnx(model, tmp_path_factory):
    """A checkpoint and its top-2 ONNX, written by the export command."""
    from hotspot_core.hotspots.checkpoint import save_checkpoint
    from training.export import main

    folder = tmp_path_factory.mktemp("export")
    ckpt = save_checkpoint(model, folder / "m.safetensors")
    out = folder / "top2.onnx"
    assert main([str(ckpt), "-o", str(out), "--top-k", "2", "--batch-dynamic"]) == 0
    return ckpt, out


def test_torch_backend_equals_autograd(model, images, reference):
    with torch.no_grad():
        autograd = model.hotspot_maps(model.features(images), method="autograd").numpy()
    logits, idx, maps = reference
    assert logits.shape == (3, 5) and idx.tolist() == [list(range(5))] * 3 and maps.shape == (3, 5, 4, 4)
    assert rel_err(maps, autograd) < BOUNDS["fp32"]


def test_onnxruntime_matches_torch_fp32(model, images, reference, cache_dir):
    backend = create_backend("onnxruntime", model, "cpu", options={"precision": "fp32", "cache_dir": str(cache_dir)})
    assert backend.name == "onnxruntime" and backend.precision == "fp32" and backend.device.type == "cpu"
    logits, idx, maps = backend.run(images).numpy()
    assert (idx == reference[1]).all()
    assert rel_err(logits, reference[0]) < BOUNDS["fp32"] and rel_err(maps, reference[2]) < BOUNDS["fp32"]
    # a numpy batch works too, and a second backend reuses the cached export
    again = create_backend("onnxruntime", model, "cpu", options={"cache_dir": str(cache_dir)})
    assert again.onnx_path == backend.onnx_path
    assert rel_err(again.run(images.numpy()).numpy()[2], reference[2]) < BOUNDS["fp32"]


def test_onnxruntime_serves_the_average_pool_stride_32_variant(images, cache_dir):
    """The ablation's 'basic' model (stride-32 trunk, average pooling, no F_ant) exports and matches autograd."""
    pytest.importorskip("onnxruntime")
    torch.manual_seed(3)
    basic = build_model(
        {"backbone": "resnet18", "actions": ACTIONS, "input_size": 64, "pool": "avg", "ant_loss": "none"}
    ).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        autograd = basic.hotspot_maps(basic.features(x), method="autograd").numpy()
    backend = create_backend("onnxruntime", basic, "cpu", options={"precision": "fp32", "cache_dir": str(cache_dir)})
    logits, _, maps = backend.run(x).numpy()
    assert maps.shape == (2, 5, 2, 2) and rel_err(maps, autograd) < BOUNDS["fp32"]
    assert read_metadata(backend.onnx_path)["pool"] == "avg"
    l2 = build_model({**basic.config.to_dict(), "pool": "l2"})
    l2.load_state_dict(basic.state_dict())
    with pytest.raises(BackendError, match="pool avg vs model l2"):
        create_backend("onnxruntime", l2, "cpu", options={"onnx_path": str(backend.onnx_path)})


@pytest.mark.parametrize("form", ["cam", "located"])
def test_onnxruntime_and_torch_serve_our_map_forms(model, images, cache_dir, form):
    """Our opt-in map forms (ModelConfig.map_form 'cam', and 'located' with its part head) through the torch
    backend and ONNX/onnxruntime: both equal autograd, differ from the paper's Eq. 4 maps, and an Eq. 4
    export is refused for them."""
    pytest.importorskip("onnxruntime")
    torch.manual_seed(1)
    ours = build_model({**model.config.to_dict(), "map_form": form})
    ours.load_state_dict({**ours.state_dict(), **model.state_dict()})  # the paper's weights (+ a random part head)
    ours.eval()
    with torch.no_grad():
        autograd = ours.hotspot_maps(ours.features(images), method="autograd").numpy()
        eq4 = model.hotspot_maps(model.features(images), method="autograd").numpy()
    assert rel_err(autograd, eq4) > 1e-2
    torch_maps = create_backend("torch", ours, "cpu", options={"precision": "fp32"}).run(images).numpy()[2]
    assert rel_err(torch_maps, autograd) < BOUNDS["fp32"]
    backend = create_backend("onnxruntime", ours, "cpu", options={"precision": "fp32", "cache_dir": str(cache_dir)})
    assert read_metadata(backend.onnx_path)["map_form"] == form
    assert rel_err(backend.run(images).numpy()[2], autograd) < BOUNDS["fp32"]
    paper_onnx = create_backend("onnxruntime", model, "cpu", options={"cache_dir": str(cache_dir)}).onnx_path
    assert paper_onnx != backend.onnx_path
    with pytest.raises(BackendError, match=f"map_form eq4 vs model {form}"):
        create_backend("onnxruntime", ours, "cpu", options={"onnx_path": str(paper_onnx)})


def test_reduced_precision_within_bounds(model, images, reference, cache_dir, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from hotspot_core.backends.onnx_files import cached_export
    from hotspot_core.backends.onnx_passes import convs_to_float16

    # what export_onnx(precision="fp16") does after tracing, applied to the cached fp32 export
    proto = onnx.load(str(cached_export(model, cache_dir, None, "fp32")))
    assert convs_to_float16(proto) > 20  # backbone + F_ant forward + backward convs
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    logits, idx, maps = session.run(None, {"images": images.numpy()})
    assert idx.dtype == np.int32 and rel_err(maps, reference[2]) < BOUNDS["fp16"]
    assert rel_err(logits, reference[0]) < BOUNDS["fp16"]
    # int8: Q/DQ on every Conv, calibrated on random crops (the test inputs' distribution)
    from hotspot_core.backends.onnx_passes import quantize_convs_int8

    proto = onnx.load(str(cached_export(model, cache_dir, None, "fp32")))
    calibration = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(5)).numpy()
    assert quantize_convs_int8(proto, calibration) > 20
    assert sum(n.op_type == "QuantizeLinear" for n in proto.graph.node) > 10
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    logits, idx, maps = session.run(None, {"images": images.numpy()})
    assert rel_err(maps, reference[2]) < BOUNDS["int8"] and rel_err(logits, reference[0]) < 5e-2
    bf16 = create_backend("torch", model, "cpu", options={"precision": "bf16"})
    logits, _, maps = bf16.run(images).numpy()
    assert bf16.precision == "bf16" and rel_err(maps, reference[2]) < BOUNDS["bf16"]
    assert rel_err(logits, reference[0]) < BOUNDS["bf16"]


def test_top_k_maps_equal_the_full_run(model, images, reference, cache_dir, top2_onnx):
    top2 = top2_onnx[1]  # the export command's file, run by the onnxruntime backend
    expected = np.argsort(-reference[0], axis=1)[:, :2]
    full = np.take_along_axis(reference[2], expected[:, :, None, None], axis=1)
    for name, opts in (("torch", {}), ("onnxruntime", {"onnx_path": str(top2)})):
        logits, idx, maps = create_backend(name, model, "cpu", top_k=2, options=opts).run(images).numpy()
        assert idx.shape == (3, 2) and maps.shape == (3, 2, 4, 4)
        assert (idx == expected).all() and rel_err(maps, full) < BOUNDS["fp32"], name
    # k = A is the full run, in model order (and the same cached export as top_k=None)
    for name in ("torch", "onnxruntime"):
        backend = create_backend(name, model, "cpu", top_k=len(ACTIONS), options={"cache_dir": str(cache_dir)})
        _, idx_all, maps_all = backend.run(images).numpy()
        assert (idx_all == reference[1]).all() and rel_err(maps_all, reference[2]) < BOUNDS["fp32"], name


def test_batches_above_max_batch_run_in_chunks(model, images, reference):
    backend = create_backend("torch", model, "cpu", options={"max_batch": 2, "precision": "fp32"})
    backend.max_batch = 2  # the torch backend has no limit of its own; the base class does the chunking
    logits, idx, maps = backend.run(images).numpy()
    assert maps.shape == reference[2].shape and rel_err(maps, reference[2]) < BOUNDS["fp32"]


def test_export_cli_metadata_round_trip_and_checker(model, top2_onnx, tmp_path):
    onnx = pytest.importorskip("onnx")
    from training.export import main

    ckpt, out = top2_onnx
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    meta = read_metadata(out)
    cfg = model.config
    assert meta["actions"] == ACTIONS and meta["input_size"] == 32 and meta["feature_size"] == 4
    assert meta["mean"] == list(cfg.mean) and meta["std"] == list(cfg.std) and meta["backbone"] == cfg.backbone
    assert meta["top_k"] == 2 and meta["precision"] == "fp32" and meta["batch"] == "dynamic" and meta["opset"] == 17
    raw = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(raw["actions"]) == ACTIONS and raw["hotspots.format"] == "interaction_hotspots.onnx/1"
    check_matches_model(meta, model, 2, "top2.onnx")
    with pytest.raises(BackendError, match="top_k"):
        check_matches_model(meta, model, None, "top2.onnx")
    # an explicit onnx_path must fit the model it serves
    with pytest.raises(BackendError, match="does not match"):
        create_backend("onnxruntime", model, "cpu", top_k=3, options={"onnx_path": str(out)})
    assert main([str(tmp_path / "missing.safetensors"), "-o", str(tmp_path / "x.onnx")]) == 2
    with pytest.raises(BackendError, match="not an interaction-hotspots ONNX"):
        read_metadata(_plain_onnx(tmp_path / "plain.onnx"))


def _plain_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_registry_and_options_errors(model):
    assert set(BACKEND_NAMES) == {"torch", "onnxruntime", "tensorrt"}
    with pytest.raises(BackendError, match="unknown inference backend 'tflite'.*onnxruntime"):
        create_backend("tflite", model)
    with pytest.raises(BackendError, match="unknown backend options"):
        BackendOptions.from_mapping({"precison": "fp16"})
    with pytest.raises(BackendError, match="precision"):
        BackendOptions(precision="fp8")
    with pytest.raises(BackendError, match="int8"):
        create_backend("torch", model, "cpu", options={"precision": "int8"})
    with pytest.raises(BackendError, match="calibration"):
        create_backend("onnxruntime", model, "cpu", options={"precision": "int8"})
    assert backend_class("torch").name == "torch"


def test_predictor_runs_any_backend(model, cache_dir):
    from hotspot_core.image.boxes import Roi
    from hotspot_core.predictor import HotspotPredictor

    image = np.random.default_rng(3).integers(0, 255, (80, 120, 3), dtype=np.uint8)
    rois = [Roi(0, 0, 60, 50), Roi(40, 20, 120, 80)]
    a = HotspotPredictor(model, device="cpu").predict(image, rois)
    b = HotspotPredictor(
        model, device="cpu", backend="onnxruntime", backend_options={"cache_dir": str(cache_dir)}
    ).predict(image, rois)
    for x, y in zip(a, b):
        assert np.allclose(x.scores, y.scores, atol=1e-5) and np.allclose(x.maps, y.maps, atol=1e-4)
        assert x.action_indices.dtype == y.action_indices.dtype == np.int64


def test_node_parameters_offer_the_backends():
    import yaml

    from hotspot_ros.params import PARAMS, validate

    assert PARAMS["backend"].choices == ("torch", "onnxruntime", "tensorrt")
    assert validate("precision", "fp16") is None and validate("precision", "fp8")
    path = Path(__file__).resolve().parents[1] / "config" / "hotspot.yaml"
    yaml_keys = set(yaml.safe_load(path.read_text())["/**"]["ros__parameters"])
    assert yaml_keys == set(PARAMS)


# ------------------------------------------------------------------------------------ engine cache
def _key(**changes) -> EngineKey:
    base = dict(
        tensorrt_version="10.9.0",
        gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability="9.0",
        onnx_sha256="ab" * 32,
        precision="fp16",
        batch_profile=(1, 8, 16),
        input_size=224,
    )
    return EngineKey(**{**base, **changes})


def test_engine_fingerprint_changes_with_every_field():
    base = _key()
    variants = [
        _key(tensorrt_version="10.10.0"),
        _key(gpu_name="NVIDIA L4"),
        _key(compute_capability="8.9"),
        _key(onnx_sha256="cd" * 32),
        _key(precision="int8"),
        _key(batch_profile=(1, 4, 16)),
        _key(input_size=128),
    ]
    prints = {base.fingerprint(), *(v.fingerprint() for v in variants)}
    assert len(prints) == 1 + len(variants)
    assert _key().fingerprint() == base.fingerprint()  # deterministic


class FakeBuilder:
    """Stands in for TensorRT's builder and runtime: 'engines' are byte strings that load to themselves."""

    def __init__(self) -> None:
        self.builds = 0

    def build(self) -> bytes:
        self.builds += 1
        return f"engine-{self.builds}".encode()

    @staticmethod
    def load(data: bytes) -> bytes | None:
        if not data.startswith(b"engine-"):
            raise RuntimeError("bad magic")  # what deserializing a corrupt engine may do
        return data


def test_engine_cache_builds_once_then_loads(tmp_path, caplog):
    cache, fake = EngineCache(tmp_path / "engines"), FakeBuilder()
    caplog.set_level(logging.INFO, logger="hotspot_core.backends")
    first = cache.get_or_build("m.fp16.b16", _key(), fake.build, fake.load)
    assert first.built and first.reason == "no cached engine" and fake.builds == 1
    second = cache.get_or_build("m.fp16.b16", _key(), fake.build, fake.load)
    assert not second.built and second.engine == first.engine and fake.builds == 1
    assert "loaded from cache" in caplog.text


def test_engine_cache_rebuilds_mismatched_and_corrupt_engines(tmp_path, caplog):
    cache, fake = EngineCache(tmp_path), FakeBuilder()
    caplog.set_level(logging.WARNING, logger="hotspot_core.backends")
    cache.get_or_build("m", _key(), fake.build, fake.load)
    # another GPU: rebuilt, and the log says what changed
    other = cache.get_or_build("m", _key(gpu_name="NVIDIA L4", compute_capability="8.9"), fake.build, fake.load)
    assert other.built and "gpu_name, compute_capability" in other.reason and fake.builds == 2
    assert "different gpu_name" in caplog.text
    # a corrupt engine file (sidecar still matching): rebuilt, not raised
    engine_path, meta_path = cache.paths("m")
    engine_path.write_bytes(b"\x00garbage")
    fixed = cache.get_or_build("m", _key(gpu_name="NVIDIA L4", compute_capability="8.9"), fake.build, fake.load)
    assert fixed.built and "could not be loaded" in fixed.reason and fake.builds == 3
    # a loader that returns None (TensorRT's deserialize_cuda_engine on a foreign engine)
    none = cache.get_or_build(
        "m",
        _key(gpu_name="NVIDIA L4", compute_capability="8.9"),
        fake.build,
        lambda data: None if fake.builds == 3 else data,
    )
    assert none.built and "could not be deserialized" in none.reason
    # an unreadable sidecar
    meta_path.write_text("{not json")
    again = cache.get_or_build("m", _key(gpu_name="NVIDIA L4", compute_capability="8.9"), fake.build, fake.load)
    assert again.built and "sidecar" in again.reason
    assert (
        json.loads(meta_path.read_text())["fingerprint"]
        == _key(gpu_name="NVIDIA L4", compute_capability="8.9").fingerprint()
    )


def test_engine_cache_survives_an_unwritable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = EngineCache(blocker / "engines").get_or_build("m", _key(), FakeBuilder().build, FakeBuilder.load)
    assert result.built and result.engine == b"engine-1"


# ------------------------------------------------------------------------------ TensorRT and CUDA
def test_tensorrt_missing_is_a_clear_error(model, tmp_path):
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match="TensorRT's Python package"):
            create_backend("tensorrt", model, "cpu")
        from training.build_engine import main

        source = tmp_path / "m.safetensors"
        source.write_bytes(b"")  # a file that exists: the missing TensorRT is what fails, before the file is read
        assert main([str(source)]) == 2
    else:
        with pytest.raises(BackendError, match="CUDA"):
            create_backend("tensorrt", model, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_matches_torch(model, images, reference, precision, tmp_path):
    pytest.importorskip("tensorrt")
    opts = {"precision": precision, "cache_dir": str(tmp_path), "max_batch": 4, "opt_batch": 2}
    backend = create_backend("tensorrt", model, "cuda", options=opts)
    logits, idx, maps = backend.run(images.cuda()).numpy()
    assert backend.precision == precision and (idx == reference[1]).all()
    assert rel_err(maps, reference[2]) < BOUNDS[precision] and rel_err(logits, reference[0]) < BOUNDS[precision]
    # second construction loads the cached engine; 5 crops > max_batch 4 run in two calls
    again = create_backend("tensorrt", model, "cuda", options=opts)
    five = torch.cat([images, images[:2]]).cuda()
    assert rel_err(again.run(five).numpy()[2][:3], reference[2]) < BOUNDS[precision]


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_torch_cuda_matches_cpu_fp32(model, images, reference, precision):
    import copy

    gpu_model = copy.deepcopy(model)
    opts = {"precision": precision, "cuda_graphs": True, "batch_sizes": (1, 4)}
    backend = create_backend("torch", gpu_model, "cuda", options=opts)
    bound = max(BOUNDS[precision], 1e-3)  # TF32 convolutions may be on for fp32
    logits, idx, maps = backend.run(images.cuda()).numpy()  # 3 crops: padded into the batch-4 graph
    assert (idx == reference[1]).all() and rel_err(maps, reference[2]) < bound
    eager = create_backend("torch", gpu_model, "cuda", options={"precision": precision})
    assert rel_err(eager.run(images.cuda()).numpy()[2], maps) < 1e-3


def test_flop_count_of_the_full_configuration():
    from hotspot_core.hotspots.flops import graph_flops

    model = build_model({"backbone": "resnet50_dilated", "actions": [f"a{i}" for i in range(7)]})
    all7, top1 = graph_flops(model), graph_flops(model, top_k=1)
    f_ant = 2 * (2 * 2048 * 2048 * 9 * 28 * 28)  # two 3x3 2048->2048 convs at 28x28
    assert abs(all7["backbone"] / 1e9 - 38.2) < 0.5  # the figures: 38 + 118 + 7 x 118 = ~985
    assert abs(all7["head"] - 8 * f_ant) / all7["head"] < 0.01
    assert abs(all7["total"] / 1e9 - 985) < 10
    assert abs(top1["head"] - 2 * f_ant) / top1["head"] < 0.01
