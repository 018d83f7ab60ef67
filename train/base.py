"""The frozen base model, through ComfyUI's own loaders: UNet, CLIP and VAE of a checkpoint.

- The checkpoint is read by ``comfy.sd.load_checkpoint_guess_config`` (SD1.x, SD2.x, SDXL: whatever
  ComfyUI detects); the prediction type (eps or v) and the noise schedule come from the model's own
  sampling settings. Other model types (flow, EDM, ...) are refused with a clear error.
- Phrase features are made exactly as the GroundingEncoder node makes them at inference
  (``nodes.encoder.phrase_features``), each phrase encoded alone; they, and the captions' contexts, are
  cached per text.
- Images are centre-cropped to a square, resized, optionally mirrored, encoded by the VAE and moved
  into the model's latent space (``process_latent_in``), as the sampler's latents are.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import torch

from ..gligen_core.errors import GLIGENError


def ensure_comfy(cpu: bool = False) -> None:
    """Make ComfyUI importable and configured (once per process), without starting its server or nodes."""
    if "comfy.model_management" in sys.modules:
        return
    from ..runner.host import find_comfyui
    path = find_comfyui()
    if path is None:
        raise GLIGENError("No ComfyUI found: set COMFYUI_PATH, install it in /opt/ComfyUI, or put this pack in "
                          "ComfyUI/custom_nodes. The trainer loads the base model with ComfyUI's loaders.")
    if path not in sys.path:
        sys.path.insert(0, path)
    import comfy.options
    comfy.options.enable_args_parsing(False)
    from comfy.cli_args import args
    args.cpu = cpu or args.cpu
    args.disable_auto_launch = True


def checkpoint_path(name: str) -> str:
    """A checkpoint file: a path, or a name in ComfyUI's models/checkpoints."""
    if os.path.isfile(name):
        return os.path.abspath(name)
    import folder_paths
    found = folder_paths.get_full_path("checkpoints", name)
    if found is None:
        raise GLIGENError(f"checkpoint {name!r} is neither a file nor a name in ComfyUI's models/checkpoints "
                          f"({', '.join(folder_paths.get_folder_paths('checkpoints'))}); give its path.")
    return found


def prediction_of(base_model) -> str:
    """'eps' or 'v' from a ComfyUI BaseModel's sampling settings."""
    from comfy.model_base import ModelType
    kind = base_model.model_type
    if kind == ModelType.EPS:
        return "eps"
    if kind == ModelType.V_PREDICTION:
        return "v"
    raise GLIGENError(f"the base model samples as {kind.name}; the GLIGEN trainer handles discrete eps- and "
                      f"v-prediction models (SD1.x, SD2.x, SDXL). Use such a checkpoint.")


@dataclass
class FrozenBase:
    """A ComfyUI model (ModelPatcher), its CLIP and VAE, frozen; text encodings cached per text."""
    model: object                 # comfy.model_patcher.ModelPatcher
    clip: object
    vae: object | None
    name: str
    _phrases: dict = field(default_factory=dict)
    _captions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prediction = prediction_of(self.model.model)
        sigmas = self.model.model.model_sampling.sigmas.detach().float().cpu()
        self.alphas_cumprod = 1.0 / (1.0 + sigmas ** 2)
        self.unet = self.model.model.diffusion_model
        self.unet.requires_grad_(False)
        self.unet.eval()

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    @property
    def family(self) -> str:
        from ..nodes.model_fit import model_family
        return model_family(self.model)

    @property
    def token_dim(self) -> int:
        """Width of the UNet's context, which is also the width of GLIGEN's tokens (768 SD1.x, 2048 SDXL)."""
        tb = next(m for m in self.unet.modules() if hasattr(m, "attn2") and hasattr(m, "norm1"))
        return int(tb.attn2.to_k.weight.shape[1])

    def fuser_widths(self):
        from ..nodes.model_fit import transformer_blocks
        return {pos: width for pos, (width, _) in transformer_blocks(self.unet).items()}

    def phrase_feature(self, phrase: str, need: int | None = None) -> torch.Tensor:
        """The phrase's feature as GroundingEncoder makes it (cached)."""
        if phrase not in self._phrases:
            from ..nodes.encoder import clip_kind, phrase_features
            width = need or (2048 if clip_kind(self.clip) == "sdxl" else None)
            if width is None:
                _, pooled = self.clip.encode_from_tokens(self.clip.tokenize(phrase), return_pooled="unprojected")
                width = pooled.shape[-1]
            self._phrases[phrase] = phrase_features(self.clip, [phrase], width, self.family)[0]
        return self._phrases[phrase]

    def caption(self, text: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(context [T, C], pooled [P] or None)`` of a caption (cached); "" is the dropped caption."""
        if text not in self._captions:
            cond, pooled = self.clip.encode_from_tokens(self.clip.tokenize(text), return_pooled=True)
            self._captions[text] = (cond[0].float().cpu(), None if pooled is None else pooled[0].float().cpu())
        return self._captions[text]

    def adm(self, pooled: torch.Tensor | None, size: int) -> torch.Tensor | None:
        """The UNet's class/vector input (SDXL's pooled text and size conditioning); None for SD1.x."""
        if pooled is None:
            return None
        y = self.model.model.encode_adm(pooled_output=pooled[None], width=size, height=size, crop_w=0, crop_h=0,
                                        target_width=size, target_height=size, prompt_type="positive")
        return None if y is None else y[0].float().cpu()

    def encode_image(self, path: str, resolution: int, flip: bool) -> torch.Tensor:
        """A ``[4, r/8, r/8]`` latent in the model's latent space."""
        from PIL import Image
        if self.vae is None:
            raise GLIGENError("this checkpoint has no VAE, so images cannot be encoded; use a checkpoint with one, "
                              "or give pre-encoded 'latent' rows.")
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            im = im.crop((left, top, left + s, top + s)).resize((resolution, resolution), Image.BICUBIC)
            if flip:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            import numpy as np
            pixels = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)[None]
        with torch.no_grad():
            latent = self.vae.encode(pixels)
        return self.model.model.process_latent_in(latent.float())[0].cpu()


def load_base(checkpoint: str, dtype: torch.dtype | None = None) -> FrozenBase:
    """The base model of a checkpoint file (or a name in models/checkpoints) through ComfyUI's loader."""
    import comfy.sd
    import folder_paths
    path = checkpoint_path(checkpoint)
    options = {"dtype": dtype} if dtype is not None else {}
    out = comfy.sd.load_checkpoint_guess_config(path, output_vae=True, output_clip=True,
                                                embedding_directory=folder_paths.get_folder_paths("embeddings"),
                                                model_options=options)
    model, clip, vae = out[:3]
    if clip is None:
        raise GLIGENError(f"the checkpoint {path!r} has no text encoder; GLIGEN's phrase features need the "
                          f"base model's own CLIP. Use a full checkpoint.")
    return FrozenBase(model, clip, vae, os.path.basename(path))
