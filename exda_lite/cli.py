"""The ``exda-lite`` command line: train, eval, restore, convert, export.

    exda-lite train --setting demo --model exda_nano --epochs 3 --batch-size 8 --patch-size 64 --out-dir runs/demo
    exda-lite train --setting 3deg --model exda_b --epochs 130 --precision bf16 --data-root /data/allinone --out-dir runs/3deg
    torchrun --nproc_per_node 4 -m exda_lite train --setting 5deg ...      # several GPUs, same flags
    exda-lite train ... --resume auto                                     # continue an interrupted run

    exda-lite eval --weights runs/3deg/model.safetensors --setting 3deg --data-root /data/allinone
    exda-lite restore photo.jpg --weights runs/demo/model.safetensors --output photo_restored.png
    exda-lite restore photo.jpg                # the bundled demo exda_nano (trained on 10 photos)
    exda-lite restore photos/ --weights runs/demo/model.safetensors --output restored/ --tile 256 --overlap 32

    exda-lite train --setting pairs --pairs noise=data/noisy:data/clean rain=data/rainy:data/clean:4 ...  # your data
    exda-lite eval --weights runs/mine/model.safetensors --setting pairs --pairs noise=test/noisy:test/clean
    exda-lite eval --weights runs/demo/model.safetensors --setting demo --mix noise+rain   # unseen mixtures
    exda-lite restore noisy/ --reference clean/ --output restored/      # + PSNR/SSIM per image, metrics.csv
    exda-lite convert deraining.pth --out restormer_deraining.safetensors    # official Restormer weights
    exda-lite export --weights runs/demo/model.safetensors --format onnx --out model.onnx

Every field of ``exda_lite.training.TrainConfig`` is a ``train`` flag (``batch_size`` -> ``--batch-size``);
``--config run.json`` reads them from a JSON file (e.g. a previous run's ``config.json``), and flags
given on the command line override it. ``python -m exda_lite ...`` works the same. Errors are
printed as one line (exit code 2); set ``EXDA_DEBUG=1`` for the full traceback. A full disk is one
line too (exit code 2), naming the file and what is intact. SIGTERM or SIGINT (Ctrl-C) stops ``train``
after the current step with ``last.pt`` saved at that step: one line, exit code 75
(``EXIT_PREEMPTED``); rerun with ``--resume auto``. A second Ctrl-C (a second or more later) stops at once.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import typing
from dataclasses import MISSING, fields
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 2, 1


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_comments(cls) -> dict[str, str]:
    """The trailing ``# comment`` of each dataclass field in the source: the flag's help text."""
    comments = {}
    for line in inspect.getsource(cls).splitlines():
        match = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
        if match:
            comments[match.group(1)] = match.group(2)
    return comments


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per ``TrainConfig`` field, typed from the dataclass; defaults left unset (None)."""
    from .nn.configs import CONFIGS
    from .training.config import PRECISIONS, SETTINGS, TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    comments = field_comments(TrainConfig)
    choices = {"setting": SETTINGS, "model": tuple(CONFIGS), "precision": PRECISIONS}
    parser.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    for f in fields(TrainConfig):
        kind = hints[f.name]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        help_text = (comments.get(f.name, "") + f" (default: {default!r})").strip()
        if f.name in choices:
            parser.add_argument(_flag(f.name), choices=choices[f.name], default=None, help=help_text)
        elif kind in (bool, bool | None):
            parser.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif kind is dict:
            parser.add_argument(_flag(f.name), type=json.loads, default=None, help=help_text + " (JSON)")
        elif kind is tuple:
            parser.add_argument(_flag(f.name), nargs="+", default=None, help=help_text)
        else:
            parser.add_argument(_flag(f.name), type=kind, default=None, help=help_text)
    parser.add_argument("--patch", dest="patch_size", type=int, default=None, help="alias of --patch-size")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exda-lite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model (paper settings: the paper's recipe for unset "
                                              "--model/--epochs/--max-steps; every departure is printed)")
    add_train_arguments(train)
    add_eval_arguments(commands.add_parser("eval", help="evaluate weights on a setting's test sets (Tables 1-6 "
                                                        "layout), your own pairs or mixed degradations"))
    add_restore_arguments(commands.add_parser("restore", help="restore image files or folders (tiled, any size); "
                                                              "--reference: PSNR/SSIM per image"))
    convert = commands.add_parser("convert", help="an official Restormer .pth (its 'params') -> our restormer "
                                                  "safetensors for restore/eval (backbone only: no NV, no GST)")
    convert.add_argument("source", help="the official checkpoint, e.g. deraining.pth (never downloaded for you)")
    convert.add_argument("--out", required=True, help="the .safetensors to write")
    export = commands.add_parser("export", help="weights -> ONNX or TorchScript with dynamic height and width")
    export.add_argument("--weights", "--checkpoint", dest="weights", default=None,
                        help="model.safetensors / last.pt (default: the bundled demo exda_nano)")
    export.add_argument("--model", default=None, help="check that the weights hold this model (e.g. restormer)")
    export.add_argument("--format", required=True, choices=["onnx", "torchscript"])
    export.add_argument("--out", required=True, help="the file to write (.onnx / .pt)")
    export.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="run the file against PyTorch at 32x40 and 48x56 and print the max difference")
    return parser


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """What eval and restore share: the model, the device and the speed switches."""
    parser.add_argument("--model", default=None, help="check that the weights hold this model (e.g. restormer)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="NHWC weights and inputs (default: on for CPU, where it is faster; see README Speed)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (slow first image)")
    parser.add_argument("--border", type=int, default=None, help="pixels cropped at each side before scoring "
                                                                 "(default: the protocol's; WeatherBench 4)")


def add_eval_arguments(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("--weights", "--checkpoint", dest="weights", required=True,
                          help="model.safetensors or last.pt written by `exda-lite train`")
    evaluate.add_argument("--setting", required=True)
    evaluate.add_argument("--pairs", nargs="+", default=(), help="setting pairs: NAME=DEGRADED_DIR:CLEAN_DIR ... "
                          "or a spec.json (its \"test\" entry if it has one)")
    evaluate.add_argument("--mix", nargs="+", default=(), help="also score mixed degradations never trained on, "
                          "e.g. noise+rain, applied to the clean test images (AdaIR Table 8)")
    evaluate.add_argument("--data-root", default=None, help="the setting's folder (default $EXDA_DATA/<folder>)")
    evaluate.add_argument("--out-dir", default=None, help="write metrics CSV/JSON (and restored images) here")
    evaluate.add_argument("--protocol", default="paper", choices=["paper", "rgb", "y"])
    evaluate.add_argument("--tile", type=int, default=0, help="tiled inference with this tile size (0: whole images)")
    evaluate.add_argument("--overlap", type=int, default=32)
    evaluate.add_argument("--max-images", type=int, default=0, help="only the first N images per benchmark")
    evaluate.add_argument("--save-images", action=argparse.BooleanOptionalAction, default=True)
    evaluate.add_argument("--demo-crop", type=int, default=0, help="demo settings: centre crop (0: full photos)")
    add_inference_arguments(evaluate)


def add_restore_arguments(restore: argparse.ArgumentParser) -> None:
    restore.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    restore.add_argument("--weights", "--checkpoint", dest="weights", default=None,
                         help="model.safetensors / best.safetensors / last.pt (default: the bundled demo exda_nano, "
                              "trained on 10 photos: a demo, not a benchmark model)")
    restore.add_argument("--output", "-o", default=None,
                         help="output .png for one input, else a folder (default: restored/ beside each input)")
    restore.add_argument("--tile", type=int, default=256, help="tile size in pixels (0: whole image at once)")
    restore.add_argument("--overlap", type=int, default=32, help="pixels shared by neighbouring tiles")
    restore.add_argument("--reference", default=None, help="clean reference image (one input) or folder (matched "
                         "by stem): print PSNR/SSIM per image and the mean, and write a CSV")
    restore.add_argument("--protocol", default="rgb", choices=["rgb", "y", "paper"],
                         help="with --reference: as in eval (paper: the protocol of --setting)")
    restore.add_argument("--setting", default="", help="with --protocol paper: whose protocol (e.g. weatherbench)")
    restore.add_argument("--csv", default=None, help="with --reference: where the metrics go "
                                                      "(default: metrics.csv beside the restored images)")
    add_inference_arguments(restore)


def load_for_inference(args, weights, prepare: bool = True):
    """(model ready for inference, info) from ``weights``, after the ``--model`` check."""
    from .training.checkpoints import CheckpointMismatchError, load_model
    from .training.speed import prepare_for_inference
    from .utils import pick_device

    device = pick_device(getattr(args, "device", "cpu"))
    model, info = load_model(weights, device)
    if args.model and info.get("model_name") != args.model:
        raise CheckpointMismatchError(f"{weights} holds a {info.get('model_name')!r} model, not {args.model!r}")
    if prepare:
        model = prepare_for_inference(model, device, args.channels_last, args.compile)
    return model, info


def train_config_from_args(args: argparse.Namespace):
    from .training.config import TrainConfig, config_from_dict

    values = {}
    if args.config:
        values.update(json.loads(Path(args.config).read_text()))
    for f in fields(TrainConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = given
    return config_from_dict(values)


def run_train(args) -> int:
    from .training.loop import train

    result = train(train_config_from_args(args))
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return EXIT_OK
    print(f"done: {result.global_step}/{result.total_steps} steps in {result.seconds:.0f} s; "
          f"weights {result.weights}, checkpoint {result.checkpoint}")
    if result.val_history:
        last = result.val_history[-1]
        print(f"held-out PSNR {last['val_psnr']:.2f} dB (degraded input {last['val_psnr_input']:.2f} dB)")
    return EXIT_OK


def run_eval(args) -> int:
    from . import files
    from .course.notebook import write_results
    from .training.evaluate import evaluate, format_table

    if bool(args.pairs) != (args.setting == "pairs"):
        raise ValueError("--setting pairs needs --pairs NAME=DEGRADED_DIR:CLEAN_DIR ... (or a spec file), "
                         "and --pairs needs --setting pairs")
    model, info = load_for_inference(args, args.weights)
    out_dir = Path(args.out_dir) if args.out_dir else None
    result = evaluate(model, args.setting, data_root=args.data_root, protocol=args.protocol, tile=args.tile or None,
                      overlap=args.overlap, save_dir=out_dir / "images" if out_dir and args.save_images else None,
                      max_images=args.max_images, demo_crop=args.demo_crop, precision=args.precision,
                      pairs=tuple(args.pairs), mix=tuple(args.mix), border=args.border)
    print(f"{args.setting}: {info.get('model_name')} from {args.weights}; protocol: {result.protocol}"
          + ("; PARTIAL (--max-images)" if result.partial else ""))
    print(format_table(result.table).to_string())
    if out_dir:
        files.write_text(out_dir / f"eval_{args.setting}_per_image.csv", result.per_image.to_csv(index=False))
        files.write_text(out_dir / f"eval_{args.setting}_table.csv", result.table.to_csv())
        ours = result.table.loc["ours (this run)"]
        write_results(out_dir, f"eval_{args.setting}", {
            "setting": args.setting, "weights": str(args.weights), "protocol": result.protocol,
            "partial": result.partial, "images": len(result.per_image),
            "psnr": {b: ours[(b, "PSNR")] for b in ours.index.get_level_values(0).unique()},
            "ssim": {b: ours[(b, "SSIM")] for b in ours.index.get_level_values(0).unique()}})
        print(f"wrote {out_dir}")
    return EXIT_OK


def run_restore(args) -> int:
    from .training.restore import collect_inputs, restore_files

    weights = args.weights
    if weights is None:
        from .weights import demo_manifest, demo_weights_path

        weights = demo_weights_path()
        print(f"no --weights given: using the bundled demo model {weights} ({demo_manifest().get('steps')} steps on "
              "10 demo photos with 5 synthetic degradations; a demo, not a benchmark model)")
    scorer = None
    if args.reference:  # every input matched (and sized) before the model is even loaded
        from .training.scoring import scorer_for

        inputs = collect_inputs(args.inputs)
        scorer = scorer_for(inputs, args.reference, args.protocol, args.setting, args.border)
    model, _ = load_for_inference(args, weights)
    report = restore_files(model, args.inputs, args.output, tile=args.tile or None, overlap=args.overlap,
                           precision=args.precision, measure=scorer)
    if scorer is not None and scorer.rows:
        mean = scorer.mean()
        first = Path(next(r["output"] for r in report if "output" in r))
        csv_path = scorer.write_csv(args.csv or first.parent / "metrics.csv")
        print(f"mean over {len(scorer.rows)} image(s): PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f} "
              f"(input {mean['psnr_input']:.2f} dB, {mean['ssim_input']:.4f}); protocol "
              f"{'Y' if scorer.y_channel else 'RGB'}, border {scorer.border}; wrote {csv_path}")
    failed = [r for r in report if "error" in r]
    if failed:
        print(f"{len(failed)} of {len(report)} file(s) could not be restored", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def run_convert(args) -> int:
    from .training.convert import convert_official

    _, overrides = convert_official(args.source, args.out)
    shown = {k: overrides[k] for k in ("in_channels", "out_channels", "dim", "blocks", "layernorm")}
    print(f"wrote {args.out}: restormer {shown} (backbone only: no nonlinear value, no GST); use it with "
          f"exda-lite restore/eval --weights {args.out} --model restormer")
    return EXIT_OK


def run_export(args) -> int:
    from .training.export import export_model

    weights = args.weights
    if weights is None:
        from .weights import demo_weights_path

        weights = demo_weights_path()
    args.device = "cpu"
    model, info = load_for_inference(args, weights, prepare=False)
    result = export_model(model, args.format, args.out, check_sizes=((32, 40), (48, 56)) if args.check else ())
    checks = ", ".join(f"{size}: {diff:.1e}" for size, diff in result["parity"].items())
    print(f"wrote {result['path']} ({args.format}, {info.get('model_name')}; input 'image' (B, "
          f"{model.config.in_channels}, H, W), any H, W >= 9, padded to a multiple of 8 inside the graph)"
          + (f"; max |difference| to PyTorch {checks}" if checks else ""))
    return EXIT_OK


def full_disk_line(args, error: BaseException) -> str | None:
    """One line for a full disk during ``args.command`` (None if the disk is not the problem)."""
    from .files import full_disk_message

    if args.command == "train":
        last = Path(train_config_from_args(args).out_dir) / "last.pt"
        kept = f"the previous checkpoint {last} is intact" if last.is_file() else "no checkpoint was written yet"
        return full_disk_message(error, kept, "free space and rerun with --resume auto")
    if args.command == "restore":
        return full_disk_message(error, "the images restored before it are complete",
                                 "free space and rerun (or restore the remaining files)")
    return full_disk_message(error, None, "free space and rerun")


def main(argv=None) -> int:
    """Entry point of the ``exda-lite`` console script; returns the exit code."""
    from .data.layout import DataLayoutError
    from .training.checkpoints import CheckpointMismatchError
    from .training.export import ExportError
    from .training.loop import NonFiniteLossError
    from .training.preemption import EXIT_PREEMPTED, Preempted
    from .training.restore import ImageReadError

    args = build_parser().parse_args(argv)
    handlers = {"train": run_train, "eval": run_eval, "restore": run_restore, "convert": run_convert,
                "export": run_export}
    try:
        return handlers[args.command](args)
    except Preempted as stop:  # SIGTERM/SIGINT: the state is saved (rank 0 wrote it)
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"exda-lite {args.command}: {stop}", file=sys.stderr)
        return EXIT_PREEMPTED
    except (DataLayoutError, CheckpointMismatchError, NonFiniteLossError, ImageReadError, FileNotFoundError,
            ValueError, TypeError, ImportError, ExportError) as error:
        if os.environ.get("EXDA_DEBUG"):
            raise
        print(f"exda-lite {args.command}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # only a full disk is turned into one line; the rest re-raises
        line = full_disk_line(args, error)
        if line is None or os.environ.get("EXDA_DEBUG"):
            raise
        print(f"exda-lite {args.command}: error: {line}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
