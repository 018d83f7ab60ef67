"""Speed and memory of GLIGEN sampling: this pack against ComfyUI core's GLIGEN, in one run, one host.

    python bench/speed.py            # random full-size SD1.5 UNet, 512x512 (minutes on a CPU)
    python bench/speed.py --fast     # small random UNet, 256x256 (seconds)

Rows: the ungrounded model; core's GLIGENLoader path (cond['gligen'], its own patch per conditioning);
ours always on (tau = 1); ours with scheduled sampling (tau = 0.3); ours with ReGround. Euler, cfg 7,
two boxes, batch 1. Each row first samples one warm-up step (loading, first-call costs), then the
timed run; seconds per step = timed run / steps. Peak memory is the process's resident memory (CPU)
or the allocator's peak (CUDA) during the timed run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

SD15_UNET = dict(image_size=32, in_channels=4, out_channels=4, model_channels=320, num_res_blocks=[2, 2, 2, 2],
                 channel_mult=[1, 2, 4, 4], num_heads=8, use_spatial_transformer=True,
                 transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0], transformer_depth_middle=1,
                 transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
                 context_dim=768, use_linear_in_transformer=False, legacy=False)
BOXES_PX = [(64, 192, 320, 448), (288, 96, 480, 352)]  # x0, y0, x1, y1 at 512 px, on the 8-px grid


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fast", action="store_true", help="small UNet at 256x256 instead of full SD1.5 at 512x512")
    p.add_argument("--steps", type=int, default=10, help="timed sampling steps per row (tau = 0.3 grounds the first 30%%)")
    p.add_argument("--size", type=int, default=None, help="image size in pixels")
    p.add_argument("--attention", choices=["pytorch", "default"], default="pytorch",
                   help="ComfyUI attention: pytorch SDPA (--use-pytorch-cross-attention) or ComfyUI's default")
    p.add_argument("--rounds", type=int, default=1, help="repeat every row this many times; the best round counts")
    return p.parse_args()


class PeakMemory:
    """Peak resident memory of this process (or CUDA allocator peak) while a block runs."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        import psutil
        import torch
        self.proc = psutil.Process()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        self.start = self.peak = self.proc.memory_info().rss
        self.stop = False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.stop:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc):
        import torch
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self.stop = True
            self.thread.join()


def main():
    opts = parse()
    import torch
    import conftest  # noqa: F401  (imports the pack as gligen_pack)
    from gligen_pack.runner.host import Host
    Host.boot(cpu=not torch.cuda.is_available(), use_pytorch_cross_attention=opts.attention == "pytorch")
    import comfy.model_management as mm
    import comfy.ops
    import comfy.sample
    import comfy.sd
    import comfy.ldm.modules.diffusionmodules.openaimodel as openaimodel
    from safetensors.torch import save_file

    from gligen_pack.gligen_core import Grounding
    from gligen_pack.nodes.patch import NEGATIVE_NULL, GroundingPatch, attach
    from gligen_pack.nodes.sampler import scheduled_model
    from gligen_pack.nodes.types import GROUNDING_KEY, AdapterRef
    from gligen_pack.gligen_core import load_adapter
    from helpers.gligen_files import SD1_FUSERS, pruned_state
    from gligen_pack.runner.demo_models import UNET_CONFIG, TINY_FUSERS, _randomize_meta
    import comfy.model_patcher

    size = opts.size or (256 if opts.fast else 512)
    config, fusers = (UNET_CONFIG, TINY_FUSERS) if opts.fast else (SD15_UNET, [(p, d) for p, _, d in SD1_FUSERS])
    device = mm.get_torch_device()
    print(f"building a random {'small' if opts.fast else 'full-size SD1.5'} UNet and GLIGEN file ...", flush=True)
    with torch.device("meta"):
        unet = openaimodel.UNetModel(**config, operations=comfy.ops.disable_weight_init)
    sd = {k: v for k, v in _randomize_meta(unet, 0).items()}
    del unet
    model = comfy.sd.load_diffusion_model_state_dict(sd)
    del sd
    unet_params = sum(p.numel() for p in model.model.diffusion_model.parameters())
    unet_bytes = sum(p.numel() * p.element_size() for p in model.model.diffusion_model.parameters())
    tmp = tempfile.mkdtemp()
    gligen_path = os.path.join(tmp, "gligen.safetensors")
    save_file(pruned_state(fusers, seed=1, gate=0.5), gligen_path)

    loaded = load_adapter(gligen_path)
    gligen_bytes = sum(p.numel() * p.element_size() for p in loaded.adapter.parameters())
    ref = AdapterRef(loaded, comfy.model_patcher.ModelPatcher(loaded.adapter, load_device=device,
                                                              offload_device=mm.unet_offload_device()))
    core_gligen = comfy.sd.load_gligen(gligen_path)

    gen = torch.Generator().manual_seed(0)
    ctx_pos, ctx_neg = torch.randn(1, 77, 768, generator=gen), torch.randn(1, 77, 768, generator=gen)
    feats = torch.randn(len(BOXES_PX), 768, generator=gen) * 2
    scale = size / 512
    boxes = [tuple(v * scale for v in b) for b in BOXES_PX]
    grounding = Grounding(tuple(f"thing {i}" for i in range(len(boxes))),
                          torch.tensor([[x0 / size, y0 / size, x1 / size, y1 / size] for x0, y0, x1, y1 in boxes]), feats)
    core_params = [(feats[i:i + 1], int(y1 - y0) // 8, int(x1 - x0) // 8, int(y0) // 8, int(x0) // 8)
                   for i, (x0, y0, x1, y1) in enumerate(boxes)]
    plain_pos = [[ctx_pos, {}]]
    ours_pos = [[ctx_pos, {GROUNDING_KEY: grounding}]]
    core_pos = [[ctx_pos, {"gligen": ("position", core_gligen, core_params)}]]
    negative = [[ctx_neg, {}]]
    latent = torch.zeros(1, 4, size // 8, size // 8)
    noise = comfy.sample.prepare_noise(latent, 0)

    def ours(**kw):
        return attach(model, ref, GroundingPatch(ref, 1.0, NEGATIVE_NULL, **kw))

    rows = [
        ("ungrounded", model, plain_pos),
        ("core GLIGEN", model, core_pos),
        ("ours, tau = 1", ours(), ours_pos),
        ("ours, tau = 0.3", scheduled_model(ours(), opts.steps, 0.3, 0.0), ours_pos),
        ("ours, ReGround", ours(reground=True), ours_pos),
        ("ours, tau = 0", scheduled_model(ours(), opts.steps, 0.0, 0.0), ours_pos),  # what a skipped step costs
    ]
    # No second copy of the UNet: every patched model shares the base model's modules and weights.
    for _, m, _ in rows:
        assert m.model is model.model
    results = {}
    for _ in range(opts.rounds):
        for name, m, pos in rows:
            with torch.inference_mode():
                comfy.sample.sample(m, noise, 1, 7.0, "euler", "normal", pos, negative, latent, seed=0,
                                    disable_pbar=True)
            mm.soft_empty_cache()
            with PeakMemory(device) as mem, torch.inference_mode():
                start = time.perf_counter()
                comfy.sample.sample(m, noise, opts.steps, 7.0, "euler", "normal", pos, negative, latent, seed=0,
                                    disable_pbar=True)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                per_step = (time.perf_counter() - start) / opts.steps
            best = results.get(name)
            if best is None or per_step < best[0]:
                results[name] = (per_step, mem.peak, mem.peak - mem.start)
            print(f"  {name:<16} {per_step:8.3f} s/step", flush=True)

    base, core = results["ungrounded"][0], results["core GLIGEN"][0]
    machine = f"{device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                                  f", {os.cpu_count()} cores, torch {torch.__version__}")
    print()
    print(f"UNet {unet_params / 1e6:.1f} M params, {size}x{size}, euler, cfg 7, {len(boxes)} boxes, "
          f"{opts.steps} timed steps, attention: {opts.attention}, {machine}")
    print("| run | s/step | x core | x ungrounded | peak memory | rise while sampling |")
    print("|---|---|---|---|---|---|")
    for name, (t, peak, rise) in results.items():
        print(f"| {name} | {t:.3f} | {t / core:.2f} | {t / base:.2f} | {peak / 2**30:.2f} GiB | {rise / 2**20:.0f} MiB |")
    tau1 = results["ours, tau = 1"][0] / core
    overhead = (results["ours, tau = 0.3"][0] - base) / (core - base)
    print()
    print(f"tau = 1 sampling time vs core: {tau1:.2f}x (target <= 0.85): {'PASS' if tau1 <= 0.85 else 'FAIL'}")
    print(f"tau = 0.3 overhead over ungrounded vs core's overhead: {overhead:.2f}x (target <= 0.35): "
          f"{'PASS' if overhead <= 0.35 else 'FAIL'}")
    print("no second copy of the UNet weights: every patched model shares the base model's modules: PASS")
    print(f"weights held: UNet {unet_bytes / 2**30:.2f} GiB once; GLIGEN {gligen_bytes / 2**30:.2f} GiB for ours "
          f"and the same again for core's own copy (both loaded in this process)")


if __name__ == "__main__":
    main()
