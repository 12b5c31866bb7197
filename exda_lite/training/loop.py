"""The training loop: one function, ``train(config)``, for one CPU, one GPU, or many GPUs under torchrun.

Read it top-down as the recipe of App. A.2: build the model, the data, the objective (L1 +
0.1 * Fourier), Adam and the cosine schedule (:func:`build_run`); then, for every batch,
forward -> loss -> backward -> Adam step -> schedule step (:func:`train_step`), epoch after
epoch (:func:`run_epoch`), with a checkpoint and a held-out score at the end of each epoch.
What the recipe does not decide lives beside it: ``config`` (the fields), ``checkpoints``
(saving and resuming), ``distributed`` (torchrun), ``logs`` (CSV and TensorBoard).

Usage::

    from exda_lite.training import TrainConfig, train
    result = train(TrainConfig(setting="demo", model="exda_nano", epochs=2, batch_size=8, patch_size=64))
    result.model, result.history, result.weights      # trained network, CSV rows, model.safetensors

Several GPUs: the same code under ``torchrun --nproc_per_node 4 -m exda_lite train ...``. The
loop reads RANK / WORLD_SIZE from the environment, wraps the model in DistributedDataParallel
and splits the data with a DistributedSampler; ``batch_size`` stays the *global* batch.

Files in ``out_dir``: ``last.pt``, ``model.safetensors`` (the EMA weights when ``ema`` is on),
``best.safetensors`` (best mean validation PSNR), ``epoch_NNNN.safetensors`` (``keep_every``),
``train_log.csv`` / ``val_log.csv``, ``config.json`` and, if TensorBoard is installed, ``tb/``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from ..nn.model import build_model
from ..utils import count_parameters, seed_everything
from .checkpoints import resume_or_initialise, save_best, save_snapshot, save_training_state
from .config import OWN_DATA_SETTINGS, TrainConfig, recipe_row
from .distributed import DistContext, setup_distributed
from .loaders import SkipSampler, build_datasets
from .logs import RunLogs, peak_memory_gb
from .losses import LOSS_PARTS, RestorationLoss
from .preemption import Preempted, StopRequest, agreed_stop, stop_on_signals
from .schedule import make_optimizer, make_scheduler
from .speed import channels_last_default, checkpoint_blocks, make_ema, maybe_compile, to_channels_last
from .validation import score, task_names


class NonFiniteLossError(FloatingPointError):
    """The loss or the gradient became NaN/inf: training stops instead of writing garbage."""


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: nn.Module  # the trained network (unwrapped from DDP), in eval mode
    config: TrainConfig
    history: list[dict]  # rows of train_log.csv
    val_history: list[dict]  # rows of val_log.csv
    checkpoint: Path  # last.pt
    weights: Path  # model.safetensors (the EMA weights when EMA is on)
    best: Path  # best.safetensors (best mean validation PSNR; absent without validation)
    global_step: int
    total_steps: int
    seconds: float  # wall time of this call
    resumed_from_step: int = 0


@dataclass
class Run:
    """Everything one training run holds while it trains (built by :func:`build_run`)."""

    config: TrainConfig
    ctx: DistContext
    model: nn.Module  # the network itself
    ddp_model: nn.Module  # what the forward pass calls: the model, or its DDP wrapper
    train_set: Dataset
    val_set: Dataset | None
    sampler: DistributedSampler
    per_rank_batch: int
    steps_per_epoch: int
    total_steps: int
    epochs: int
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    out_dir: Path
    start_time: float
    logs: RunLogs | None = None
    ema: nn.Module | None = None  # AveragedModel of the weights (config.ema > 0)
    best_psnr: float = float("-inf")  # best mean validation PSNR so far (best.safetensors)
    global_step: int = 0
    start_epoch: int = 0  # where a resumed run picks up
    start_batch: int = 0
    resumed_from: int = 0
    say: Callable = field(default=print)  # print on rank 0, silent elsewhere
    stop: StopRequest | None = None  # set by SIGTERM/SIGINT while fit() runs (preemption)
    stopped_by: str | None = None  # the signal every rank agreed to stop for

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    @property
    def export_model(self) -> nn.Module:
        """What is validated and exported: the EMA weights when EMA is on, else the model."""
        return self.ema.module if self.ema is not None else self.model


def autocast_context(device: torch.device, precision: str):
    """``torch.autocast`` for bf16/fp16 (a no-op context for fp32)."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def check_precision(precision: str, device: torch.device) -> None:
    """A clear error for a precision this device cannot train in."""
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA GPU (GradScaler); on this device use 'bf16' or 'fp32'")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU does not support bf16; use precision='fp16' (with GradScaler) or 'fp32'")
    if precision != "fp32" and device.type == "mps":
        raise ValueError("mixed precision is not supported here on MPS; use precision='fp32'")


def train(config: TrainConfig, model: nn.Module | None = None, train_set: Dataset | None = None,
          val_set: Dataset | None = None, callbacks: list[Callable[[dict], None]] = ()) -> TrainResult:
    """Train with ``config``; resume from a checkpoint if ``config.resume`` says so.

    Args:
        config: the run (see :class:`TrainConfig`).
        model: a network to train instead of ``build_model(config.model, **config.model_overrides)``.
        train_set, val_set: datasets instead of those of ``config.setting`` (items ``(degraded, clean, label)``).
        callbacks: functions called after every optimizer step with ``{"step", "epoch", "loss", "lr"}``;
            an exception raised there stops training (the tests use this to simulate a crash).

    Raises:
        NonFiniteLossError: the loss or the gradient norm became NaN/inf (the message says when and what to try).
        CheckpointMismatchError: ``config.resume`` points to a checkpoint of another model or data setup.
    """
    start_time = time.time()
    ctx = setup_distributed(config.device)
    try:
        run = build_run(config, ctx, model, train_set, val_set, start_time)
        resumed = resume_or_initialise(run)  # loads the state into model, optimizer, ...; says where to continue
        if resumed is not None:
            run.start_epoch, run.start_batch, run.best_psnr = resumed.epoch, resumed.batch, resumed.best_psnr
            run.global_step = run.resumed_from = resumed.global_step
        if ctx.world_size > 1:
            run.ddp_model = DistributedDataParallel(
                run.model, device_ids=[ctx.local_rank] if run.device.type == "cuda" else None)
        run.ddp_model = maybe_compile(run.ddp_model, config.compile)
        run.logs = RunLogs.open(config, run.out_dir, fresh=resumed is None, main=ctx.main, step=run.global_step,
                                tasks=task_names(run.val_set))
        announce(run)
        try:
            with stop_on_signals() as run.stop:  # SIGTERM/SIGINT: finish the step, save, raise Preempted
                fit(run, callbacks)
        finally:
            run.logs.close()
        run.model.eval().to(memory_format=torch.contiguous_format)  # NCHW for the caller, whatever trained
        return TrainResult(model=run.model, config=config, history=run.logs.train.rows,
                           val_history=run.logs.val.rows, checkpoint=run.out_dir / "last.pt",
                           weights=run.out_dir / "model.safetensors", best=run.out_dir / "best.safetensors",
                           global_step=run.global_step,
                           total_steps=run.total_steps, seconds=time.time() - start_time,
                           resumed_from_step=run.resumed_from)
    finally:
        if ctx.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def build_run(config: TrainConfig, ctx: DistContext, model: nn.Module | None, train_set: Dataset | None,
              val_set: Dataset | None, start_time: float) -> Run:
    """Model, data, objective (Eq. 4-5), Adam and the cosine schedule, seeded by ``config.seed``."""
    device = ctx.device
    check_precision(config.precision, device)
    seed_everything(config.seed, deterministic=config.deterministic)
    if device.type == "cuda" and not config.deterministic:
        torch.backends.cudnn.benchmark = True
    if model is None:
        overrides = {"in_channels": config.channels, "out_channels": config.channels, **config.model_overrides}
        model = build_model(config.model, **overrides)
    model = model.to(device)
    if config.channels_last is None:  # the default: NHWC where measured faster (CPU; README *Speed*)
        config.channels_last = channels_last_default(device)
    if config.channels_last:
        model = to_channels_last(model)
    ema = make_ema(model, config.ema)  # copies the model before checkpoint_blocks patches its blocks
    if config.checkpoint_activations:
        checkpoint_blocks(model)
    if train_set is None:
        train_set, default_val = build_datasets(config)
        val_set = val_set if val_set is not None else default_val
    if config.batch_size % (ctx.world_size * config.accumulate):
        raise ValueError(f"batch_size {config.batch_size} is the global batch: it must be divisible by the "
                         f"{ctx.world_size} processes x accumulate {config.accumulate}")
    per_rank_batch = config.batch_size // ctx.world_size
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=config.seed, drop_last=True)
    steps_per_epoch = len(sampler) // per_rank_batch
    if steps_per_epoch == 0:
        raise ValueError(f"the training set has {len(train_set)} items, fewer than one batch of {config.batch_size}")
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    loss_fn = RestorationLoss(fourier_weight=config.fourier_weight)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    return Run(config=config, ctx=ctx, model=model, ddp_model=model, train_set=train_set, val_set=val_set,
               sampler=sampler, per_rank_batch=per_rank_batch, steps_per_epoch=steps_per_epoch,
               total_steps=total_steps, epochs=math.ceil(total_steps / steps_per_epoch), loss_fn=loss_fn,
               optimizer=optimizer, scheduler=scheduler, scaler=scaler, out_dir=Path(config.out_dir),
               start_time=start_time, ema=ema, say=print if ctx.main else (lambda *a, **k: None))


def announce(run: Run) -> None:
    """Say what is about to be trained, and every departure from the paper's recipe."""
    config, say = run.config, run.say
    if config.fourier_weight == 0:
        say("note: fourier_weight=0 -- the Fourier term of Eq. 4 is OFF (L1 only)")
    if config.filled_from_recipe and config.setting not in OWN_DATA_SETTINGS:
        say(f"recipe: {', '.join(f'{k}={getattr(config, k)!r}' for k in config.filled_from_recipe)} from the "
            f"paper ({recipe_row(config.setting)[3]})")
    for difference in config.recipe_differences():
        say(f"recipe: departs from the paper: {difference}")
    for choice in config.our_choices():
        say(f"recipe: our choice: {choice}")
    say(f"training {config.model} ({count_parameters(run.model):,} parameters) on {config.setting}: "
        f"{len(run.train_set)} samples, {run.steps_per_epoch} steps/epoch x {run.epochs} epochs = "
        f"{run.total_steps} steps, batch {config.batch_size} ({run.ctx.world_size} process(es)), "
        f"patch {config.patch_size}, device {run.device}, {config.precision}")


def fit(run: Run, callbacks=()) -> None:
    """Epoch after epoch until ``total_steps``; validation (best.safetensors), snapshots and last.pt after each."""
    config = run.config
    if run.global_step == 0 and config.val_every:
        validate(run, 0)  # the starting point: the untrained network on the held-out images
    if run.start_batch >= run.steps_per_epoch:
        run.start_epoch, run.start_batch = run.start_epoch + 1, 0
    run.ddp_model.train()
    for epoch in range(run.start_epoch, run.epochs):
        if run.global_step >= run.total_steps:
            break
        position = run_epoch(run, epoch, callbacks)
        finished = run.global_step >= run.total_steps
        if run.stopped_by and position < run.steps_per_epoch:  # preempted inside the epoch: as --checkpoint-every
            save_training_state(run, epoch, position)
        elif position >= run.steps_per_epoch:
            if config.val_every and ((epoch + 1) % config.val_every == 0 or finished):
                validate(run, epoch + 1)  # before last.pt, so that it holds the best score so far
            if config.keep_every and ((epoch + 1) % config.keep_every == 0 or finished) and run.ctx.main:
                save_snapshot(run, epoch + 1)
            save_training_state(run, epoch + 1, 0)
        else:  # stopped inside the epoch (max_steps)
            validate(run, epoch + 1)
            save_training_state(run, epoch, position)
        run.ctx.barrier()
        if run.stopped_by and run.global_step < run.total_steps:
            raise Preempted(run.global_step, run.stopped_by, run.out_dir / "last.pt")


def epoch_loader(run: Run, epoch: int, skip: int) -> DataLoader:
    """This epoch's batches (new shuffle, new random patches), skipping ``skip`` batches already trained."""
    run.sampler.set_epoch(epoch)
    if hasattr(run.train_set, "set_epoch"):
        run.train_set.set_epoch(epoch)  # new random patches every epoch
    return DataLoader(run.train_set, batch_size=run.per_rank_batch,
                      sampler=SkipSampler(run.sampler, skip * run.per_rank_batch),
                      num_workers=run.config.num_workers, drop_last=True, pin_memory=run.device.type == "cuda")


def run_epoch(run: Run, epoch: int, callbacks=()) -> int:
    """Train one epoch (or its rest, after a resume); return the number of its batches done."""
    config = run.config
    skip = run.start_batch if epoch == run.start_epoch else 0
    bar = tqdm(total=run.steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{run.epochs}",
               disable=not (config.progress and run.ctx.main), leave=False)
    position = skip  # batches of this epoch done
    for batch_index, (degraded, clean, _) in enumerate(epoch_loader(run, epoch, skip), start=skip):
        if run.global_step >= run.total_steps:
            break
        lr = run.optimizer.param_groups[0]["lr"]
        values = train_step(run, degraded.to(run.device, non_blocking=True),
                            clean.to(run.device, non_blocking=True), epoch)  # {"total", "l1", "fourier", "grad_norm"}
        run.global_step += 1
        position = batch_index + 1
        bar.update(1)
        row = run.logs.step(run.global_step, epoch + position / run.steps_per_epoch, lr, values,
                            config.batch_size, run.total_steps, run.start_time, peak_memory_gb(run.device))
        if row:
            bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}")
        for callback in callbacks:
            callback({"step": run.global_step, "epoch": epoch, "loss": values["total"].item(), "lr": lr})
        if run.global_step < run.total_steps:  # the same on every rank, so every rank all-reduces the flag
            run.stopped_by = agreed_stop(run.stop, run.ctx.world_size, run.device)
        if run.stopped_by:
            break  # fit() saves last.pt at this step and raises Preempted
        if config.checkpoint_every and run.global_step % config.checkpoint_every == 0:
            save_training_state(run, epoch, position)
    bar.close()
    return position


def forward_loss(run: Run, degraded: torch.Tensor, clean: torch.Tensor, scale: float) -> dict[str, torch.Tensor]:
    """One micro-batch: forward -> L1 + 0.1 * Fourier -> backward of ``scale`` x the loss; returns the loss parts."""
    if run.config.channels_last:
        degraded = degraded.contiguous(memory_format=torch.channels_last)
    with autocast_context(run.device, run.config.precision):
        restored = run.ddp_model(degraded)
    parts = run.loss_fn(restored.float(), clean)  # the loss in fp32, whatever the autocast dtype
    run.scaler.scale(parts["total"] * scale).backward()
    zero = torch.zeros((), device=run.device)
    return {name: parts.get(name, zero).detach() for name in LOSS_PARTS}


def no_sync(run: Run, last: bool):
    """DDP: skip the gradient all-reduce on every micro-batch but the last of an accumulation."""
    ddp = getattr(run.ddp_model, "_orig_mod", run.ddp_model)  # under torch.compile
    return ddp.no_sync() if not last and isinstance(ddp, DistributedDataParallel) else contextlib.nullcontext()


def train_step(run: Run, degraded: torch.Tensor, clean: torch.Tensor, epoch: int) -> dict[str, torch.Tensor]:
    """forward -> L1 + 0.1 * Fourier -> backward (``accumulate`` micro-batches) -> (clip) -> Adam -> schedule -> EMA.

    Returns this step's loss parts, averaged over micro-batches and ranks, and the gradient norm before clipping:
    ``{"total", "l1", "fourier", "grad_norm"}`` (``logs.STEP_VALUES``).
    """
    config, device, step, n = run.config, run.device, run.global_step + 1, run.config.accumulate
    run.optimizer.zero_grad(set_to_none=True)
    parts = []
    for i, (d, c) in enumerate(zip(degraded.chunk(n), clean.chunk(n))):
        with no_sync(run, last=i == n - 1):
            parts.append(forward_loss(run, d, c, 1.0 / n))
    stacked = run.ctx.mean(torch.stack([torch.stack([p[name] for name in LOSS_PARTS]) for p in parts]).mean(0))
    values = dict(zip(LOSS_PARTS, stacked))  # one all-reduce for all parts, then by name again
    lr = run.optimizer.param_groups[0]["lr"]
    if not torch.isfinite(stacked).all():
        raise NonFiniteLossError(
            f"non-finite loss at step {step} (epoch {epoch + 1}): total={values['total'].item()}, "
            f"l1={values['l1'].item()}, fourier={values['fourier'].item()}, lr={lr:.3g}, precision={config.precision}. "
            "Training stopped; the last good checkpoint is untouched. Try a lower lr, grad_clip=1.0, "
            "warmup_steps, or bf16/fp32 instead of fp16; check the data for NaN/inf pixels.")
    run.scaler.unscale_(run.optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.grad_clip or float("inf"))
    if config.precision != "fp16" and not torch.isfinite(grad_norm):
        raise NonFiniteLossError(
            f"non-finite gradient norm at step {step} (epoch {epoch + 1}) with a finite loss "
            f"{values['total'].item():.4g}; lr={lr:.3g}. Try a lower lr or grad_clip=1.0.")
    run.scaler.step(run.optimizer)  # fp16: skipped when the scaled gradients overflowed
    run.scaler.update()
    run.scheduler.step()
    if run.ema is not None:
        run.ema.update_parameters(run.model)
    return {**values, "grad_norm": grad_norm.detach().float().to(device)}


def validate(run: Run, epoch: int) -> None:
    """Per-task PSNR/SSIM of the exported weights in the setting's protocol -> val_log.csv; best.safetensors
    when the mean PSNR improves (rank 0 only)."""
    if run.val_set is None or not run.ctx.main:
        return
    from .evaluate import PROTOCOLS

    y_channel, border = PROTOCOLS.get(run.config.setting, (False, 0))
    scores = score(run.export_model, run.val_set, run.config.setting,
                   lambda: autocast_context(run.device, run.config.precision), run.config.channels_last,
                   y_channel=y_channel, border=border)
    mean = scores["mean"]
    run.logs.validation(run.global_step, epoch, scores)
    improved = mean["psnr"] > run.best_psnr
    if improved:
        run.best_psnr = mean["psnr"]
        save_best(run, epoch, mean)
    run.say(f"epoch {epoch}: held-out PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f} "
            f"(degraded input {mean['psnr_input']:.2f} dB)" + (" -> best.safetensors" if improved else ""))
