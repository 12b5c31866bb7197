"""An optional pretrained feature extractor for notebook 08's comparison, from the local cache only.

"Analyses with foundation model embeddings" (Sec. 4): the paper does not say which model. We
try DINOv2 ViT-S/14 from the torch hub cache, then torchvision's ImageNet models whose weight
files are already on disk. Nothing is ever downloaded; without cached weights the notebook says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

@dataclass
class FoundationModel:
    """A frozen pretrained image encoder found in the local cache: ``net`` maps (B, 3, size, size) to (B, D)."""

    name: str
    net: nn.Module
    size: int = 224
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    source: str = ""


FOUNDATION_CANDIDATES = ("dinov2_vits14", "vit_b_16", "resnet50", "resnet18")
"""Tried in this order: DINOv2 ViT-S/14 (torch.hub), then torchvision's ImageNet models."""


def hub_dir() -> Path:
    """torch.hub's cache folder (``$TORCH_HOME/hub``, default ``~/.cache/torch/hub``)."""
    return Path(torch.hub.get_dir())


def torchvision_weight_files(name: str) -> list[Path]:
    """Where torch.hub would have cached the ImageNet weights of torchvision model ``name`` (V1, V2, ...)."""
    import torchvision

    return [hub_dir() / "checkpoints" / Path(w.url).name for w in torchvision.models.get_model_weights(name)
            if w.name.startswith("IMAGENET1K_V")]


def load_foundation_model(name: str) -> FoundationModel | None:
    """``name`` from the local cache, or None when its weights are not there. Never downloads."""
    if name.startswith("dinov2"):
        repo, weights = hub_dir() / "facebookresearch_dinov2_main", hub_dir() / "checkpoints" / f"{name}_pretrain.pth"
        if not (repo.is_dir() and weights.is_file()):
            return None
        net = torch.hub.load(str(repo), name, source="local", pretrained=False)
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return FoundationModel(name, net.eval(), size=224, source=str(weights))
    import torchvision

    weights = next((path for path in torchvision_weight_files(name) if path.is_file()), None)
    if weights is None:
        return None
    net = torchvision.models.get_model(name, weights=None)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    if hasattr(net, "fc"):
        net.fc = nn.Identity()  # ResNet: the pooled 512/2048 features
    if hasattr(net, "heads"):
        net.heads = nn.Identity()  # ViT: the class token, 768 features
    return FoundationModel(name, net.eval(), size=224, source=str(weights))


def find_foundation_model(candidates=FOUNDATION_CANDIDATES) -> tuple[FoundationModel | None, str]:
    """The first candidate whose weights are cached locally: ``(model, "")``, else ``(None, reason)``.

    Looks only in torch.hub's cache (``$TORCH_HOME``); nothing is downloaded, so this is safe offline.
    """
    problems = []
    for name in candidates:
        try:
            found = load_foundation_model(name)
        except Exception as error:  # noqa: BLE001 - a broken cache entry is reported, not fatal
            problems.append(f"{name}: {type(error).__name__}: {error}")
            continue
        if found is not None:
            return found, ""
    where = hub_dir() / "checkpoints"
    reason = (f"no cached weights for {', '.join(candidates)} in {where}"
              + (f" ({'; '.join(problems)})" if problems else "")
              + ". Nothing is downloaded at run time: put the weights there (or point TORCH_HOME at a cache that has "
                "them) to add this row.")
    return None, reason


@torch.no_grad()
def foundation_features(model: FoundationModel, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, D): resized to the model's input size and normalised as in its training."""
    mean = torch.tensor(model.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.std).view(1, 3, 1, 1)
    out = []
    for start in range(0, len(images), batch_size):
        x = F.interpolate(images[start:start + batch_size], size=(model.size, model.size), mode="bilinear",
                          antialias=True, align_corners=False)
        out.append(model.net((x - mean) / std).float())
    return torch.cat(out)
