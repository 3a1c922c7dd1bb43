"""Command line: ``python -m training.demonstrations {scene,find,score,evaluate,label,build,train}`` (see
``docs/demonstrations.md``)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hotspot_core.demo_model import demo_dan_path
from hotspot_core.interactions import ContactRule
from training.synthetic.catalogue import CATEGORY_BY_NAME

from ..locate import EXTENTS
from .bag import Topics
from .build import FIT_IMAGES, IMAGES, BuildConfig, build_dataset
from .find import FindConfig, find_demonstrations
from .labels import resolve_labels, write_labels
from .pipeline import CUES, TeachConfig, teach
from .scene import SCENE_BAG, SCENE_TRUTH, SceneConfig, make_scene
from .score import format_table, score

__all__ = ["build_parser", "main"]


def _topic_args(p: argparse.ArgumentParser) -> None:
    t = Topics()
    p.add_argument("--image-topic", default=t.image, help="sensor_msgs/Image or CompressedImage topic")
    p.add_argument("--detections-topic", default=t.detections, help="vision_msgs/Detection2DArray of the objects")
    p.add_argument("--hand-topic", default=t.hands, help="vision_msgs/Detection2DArray of hands (optional in the bag)")


def _scene_args(p: argparse.ArgumentParser, demos: int) -> None:
    d = SceneConfig()
    p.add_argument("--demos", type=int, default=demos, help="demonstrations in the scene")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--objects", type=int, default=d.objects, help="objects on the table (1..5)")
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--height", type=int, default=d.height)
    p.add_argument("--fps", type=float, default=d.fps)
    p.add_argument("--jitter-px", type=float, default=d.jitter_px, help="detector box noise (s.d. per edge)")
    p.add_argument("--miss-prob", type=float, default=d.miss_prob, help="chance a detection is missing in a frame")
    p.add_argument(
        "--categories", nargs="+", default=list(d.categories), choices=sorted(CATEGORY_BY_NAME), metavar="CAT"
    )


def _find_args(p: argparse.ArgumentParser) -> None:
    d = FindConfig()
    r = d.contact
    p.add_argument("--hand-classes", nargs="*", default=list(d.hand_classes), help="detection classes that are hands")
    p.add_argument("--stamp-tolerance", type=float, default=d.stamp_tolerance_s, help="s, pairing by stamp")
    p.add_argument("--contact-frames", type=int, default=r.contact_frames, help="contact frames that start one")
    p.add_argument("--release-frames", type=int, default=r.release_frames, help="frames without contact that end one")
    p.add_argument("--contact-margin-px", type=float, default=r.margin_px, help="a hand this close touches")
    p.add_argument("--pre", type=float, default=d.pre_s, help="s of clip before the first contact")
    p.add_argument("--post", type=float, default=d.post_s, help="s of clip after the release")
    p.add_argument("--context", type=float, default=d.context, help="crop window side / object's longer side")


def _label_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--labels",
        type=Path,
        help="the filled-in labels.csv (by id), or an interval file (start_s,end_s,verb[,track_id])",
    )
    p.add_argument(
        "--dan",
        nargs="?",
        const=str(demo_dan_path()),
        default=None,
        metavar="CHECKPOINT",
        help="label with a DAN checkpoint's recognition instead (no value: the shipped demo DAN)",
    )
    p.add_argument("--min-confidence", type=float, default=0.5, help="with --dan: the lowest action probability")


def _build_args(p: argparse.ArgumentParser) -> None:
    d = BuildConfig()
    p.add_argument("--fps", type=float, default=d.fps, help="the dataset clips' frame rate")
    p.add_argument("--min-clips", type=int, default=d.min_clips, help="the fewest training clips per verb")
    p.add_argument("--verbs", nargs="+", default=None, help="the model's verbs in order (default: the labels')")
    p.add_argument("--test-frac", type=float, default=d.test_frac, help="share of each verb held out as test")
    p.add_argument("--truth", type=Path, default=None, help="a synthetic scene's scene.json: test images' points")
    p.add_argument(
        "--image", choices=IMAGES, default=d.image, help="the at-rest image: the clip's window, or the object's box"
    )
    p.add_argument(
        "--fit-images",
        nargs="+",
        choices=FIT_IMAGES,
        default=list(d.fit_images),
        help="the at-rest views the contact fit fits the part maps on (mid: 1.5 times the object's side)",
    )
    p.add_argument(
        "--no-fit-mirror",
        dest="fit_mirror",
        action="store_false",
        help="do not also fit on the views mirrored left-right",
    )


def _build_config(a: argparse.Namespace) -> BuildConfig:
    return BuildConfig(
        fps=a.fps,
        min_clips=a.min_clips,
        verbs=tuple(a.verbs) if a.verbs else None,
        test_frac=a.test_frac,
        image=a.image,
        fit_images=tuple(a.fit_images),
        fit_mirror=a.fit_mirror,
    )


def _read_found(folder: Path) -> dict:
    path = folder / "interactions.json"
    if not path.is_file():
        raise FileNotFoundError(2, "No interactions.json (not a find output folder)", str(path))
    return json.loads(path.read_text(encoding="utf-8"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.demonstrations",
        description="Demonstrations in recordings: a synthetic scene as a rosbag2 MCAP file, and finding the "
        "interactions (hand reaches, uses, lets go) in any such recording.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    s = sub.add_parser(
        "scene", help="write a synthetic demonstration scene (scene.mcap + scene.json)", formatter_class=fmt
    )
    s.add_argument("-o", "--out", type=Path, required=True, help="output folder (absent or empty)")
    _scene_args(s, SceneConfig().demos)
    _topic_args(s)
    f = sub.add_parser("find", help="find the interactions in a recording", formatter_class=fmt)
    f.add_argument("bag", type=Path, help="an .mcap file or a rosbag2 folder")
    f.add_argument("-o", "--out", type=Path, required=True, help="output folder (absent or empty)")
    _topic_args(f)
    _find_args(f)
    c = sub.add_parser("score", help="recall / precision of found interactions against a scene's truth")
    c.add_argument("found", type=Path, help="the find command's output folder")
    c.add_argument("truth", type=Path, help="the scene's scene.json")
    c.add_argument("--min-iou", type=float, default=0.5)
    e = sub.add_parser("evaluate", help="scene -> bag -> find -> score in a temporary folder", formatter_class=fmt)
    _scene_args(e, 40)
    _find_args(e)
    e.add_argument("--keep", type=Path, help="keep the scene and the found interactions in this folder")
    e.add_argument("--min-iou", type=float, default=0.5)
    lab = sub.add_parser("label", help="resolve the verbs (CSV, intervals or DAN) into a labels CSV with sources")
    lab.add_argument("found", type=Path, help="the find command's output folder")
    lab.add_argument("-o", "--out", type=Path, required=True, help="labels CSV to write")
    _label_args(lab)
    b = sub.add_parser("build", help="a training dataset (OPRA layout) from labelled interactions", formatter_class=fmt)
    b.add_argument("found", type=Path, help="the find command's output folder")
    b.add_argument("-o", "--out", type=Path, required=True, help="dataset folder (absent or empty)")
    _label_args(b)
    _build_args(b)
    t = sub.add_parser(
        "train", help="recording -> find -> label -> build -> train -> locate -> model", formatter_class=fmt
    )
    t.add_argument("bag", type=Path, help="an .mcap file or rosbag2 folder, or a find output folder to reuse")
    t.add_argument("-o", "--out", type=Path, required=True, help="the model file (.safetensors) for model_path")
    t.add_argument("--work", type=Path, default=None, help="keep the find folder, dataset and run here")
    t.add_argument("--epochs", type=int, default=TeachConfig().epochs)
    t.add_argument(
        "--cue",
        choices=CUES,
        default=TeachConfig().cue,
        help="the contact fit's cue: frame differences or the recorded hand boxes (each falls back to the other "
        "for a clip where it finds no contact)",
    )
    t.add_argument("--extent", choices=EXTENTS, default=TeachConfig().extent, help="the contact fit's part extent")
    t.add_argument(
        "--grow-similarity",
        type=float,
        default=TeachConfig().grow_similarity,
        help="--extent grow: the cosine similarity a cell needs to join the part",
    )
    t.add_argument("--seed", type=int, default=0)
    _label_args(t)
    _build_args(t)
    _topic_args(t)
    _find_args(t)
    return p


def _topics(a: argparse.Namespace) -> Topics:
    return Topics(a.image_topic, a.detections_topic, a.hand_topic)


def _scene_config(a: argparse.Namespace, topics: Topics) -> SceneConfig:
    return SceneConfig(
        demos=a.demos,
        seed=a.seed,
        objects=a.objects,
        width=a.width,
        height=a.height,
        fps=a.fps,
        jitter_px=a.jitter_px,
        miss_prob=a.miss_prob,
        categories=tuple(a.categories),
        topics=topics,
    )


def _find_config(a: argparse.Namespace, topics: Topics) -> FindConfig:
    return FindConfig(
        topics=topics,
        hand_classes=tuple(a.hand_classes),
        stamp_tolerance_s=a.stamp_tolerance,
        contact=ContactRule(a.contact_frames, a.release_frames, a.contact_margin_px),
        pre_s=a.pre,
        post_s=a.post,
        context=a.context,
    )


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.command == "scene":
        truth = make_scene(a.out, _scene_config(a, _topics(a)))
        print(
            f"{a.out / SCENE_BAG}: {truth['frames']} frames, {len(truth['interactions'])} demonstrations; truth in {a.out / SCENE_TRUTH}"
        )
    elif a.command == "find":
        t0 = time.perf_counter()
        r = find_demonstrations(a.bag, a.out, _find_config(a, _topics(a)))
        c = r["counts"]
        print(
            f"{a.out}: {len(r['interactions'])} interactions in {c['paired']} frames ({time.perf_counter() - t0:.1f} s); "
            f"fill the verbs into {a.out / 'labels.csv'} looking at {a.out / 'contact_sheet.png'}"
        )
    elif a.command == "score":
        found = json.loads((a.found / "interactions.json").read_text(encoding="utf-8"))
        truth = json.loads(a.truth.read_text(encoding="utf-8"))
        print(format_table(score(found, truth, a.min_iou)))
    elif a.command == "label":
        found = _read_found(a.found)
        labels = resolve_labels(a.found, found, a.labels, a.dan, a.min_confidence)
        write_labels(a.out, found, labels)
        print(f"{a.out}: {len(labels)} of {len(found['interactions'])} interactions labelled")
    elif a.command == "build":
        found = _read_found(a.found)
        labels = resolve_labels(a.found, found, a.labels, a.dan, a.min_confidence)
        truth = json.loads(a.truth.read_text(encoding="utf-8")) if a.truth else None
        annots = build_dataset(a.found, labels, a.out, _build_config(a), truth)
        print(
            f"{a.out}: {len(annots['train_clips'])} training clips, {len(annots['test_clips'])} test clips, "
            f"{len(annots['test_images'])} test images; verbs {annots['verbs']}; train with "
            f"python -m training.train --data-name opra --data-root {a.out} ..."
        )
    elif a.command == "train":
        truth = json.loads(a.truth.read_text(encoding="utf-8")) if a.truth else None
        cfg = TeachConfig(
            find=_find_config(a, _topics(a)),
            build=_build_config(a),
            epochs=a.epochs,
            cue=a.cue,
            extent=a.extent,
            grow_similarity=a.grow_similarity,
            min_confidence=a.min_confidence,
            seed=a.seed,
        )
        t0 = time.perf_counter()
        r = teach(a.bag, a.out, cfg, a.labels, a.dan, a.work, truth)
        print(
            f"{a.out}: {r['labels']} labelled of {r['interactions']} interactions, "
            f"{time.perf_counter() - t0:.0f} s; run the node with model_path:={a.out.resolve()}"
        )
    else:
        topics = Topics()
        with tempfile.TemporaryDirectory() as tmp:
            root = a.keep or Path(tmp)
            t0 = time.perf_counter()
            truth = make_scene(root / "scene", _scene_config(a, topics))
            t1 = time.perf_counter()
            found = find_demonstrations(root / "scene" / SCENE_BAG, root / "found", _find_config(a, topics))
            t2 = time.perf_counter()
            print(
                f"scene: {a.demos} demonstrations, {truth['frames']} frames {a.width}x{a.height} at {a.fps:g} Hz, "
                f"seed {a.seed} ({t1 - t0:.1f} s); find: {t2 - t1:.1f} s"
            )
            print(format_table(score(found, truth, a.min_iou)))
    return 0
