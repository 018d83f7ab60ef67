"""Speed and memory of GLIGEN sampling: this pack against ComfyUI core's GLIGEN, in one run, one host.

    python bench/speed.py            # random full-size SD1.5 UNet at 512x512, plus the SDXL rows
    python bench/speed.py --fast     # small random UNets at 256x256 (a minute on a CPU)

SD1.x rows: the ungrounded model; core's GLIGENLoader path (cond['gligen'], its own patch per
conditioning); ours always on (tau = 1); with scheduled sampling (tau = 0.3); with ReGround; with
tau = 0 (what a skipped step costs); with --compile, the ungrounded model and ours (tau = 1) under
core's TorchCompileModel wrapper (inductor), and what grounding adds compiled against uncompiled. SDXL rows (a small SDXL-layout UNet with all 70 GLIGEN-XL fusers,
at width 320; core cannot load GLIGEN-XL): ungrounded, ours tau = 1, ours tau = 0.3. Map rows: a depth
GLIGEN (ConvNeXt-T tokenizer, 8 extra first-conv channels) on the SD1.x UNet at tau = 1, 0.3 and 0, and
how often its tokenizer ran (once per sampling run).
Euler, cfg 7, two boxes, batch 1. Each row first samples one warm-up step (loading, first-call costs),
then the timed run; seconds per step = timed run / steps. Peak memory is the process's resident
memory (CPU) or the allocator's peak (CUDA) during the timed run, and how much it rose over what was
held when the run started (activations, tokens).
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
    p.add_argument("--fast", action="store_true", help="small UNets at 256x256 instead of full SD1.5 at 512x512")
    p.add_argument("--steps", type=int, default=10, help="timed sampling steps per row (tau = 0.3 grounds the first 30%%)")
    p.add_argument("--size", type=int, default=None, help="image size in pixels")
    p.add_argument("--attention", choices=["pytorch", "default"], default="pytorch",
                   help="ComfyUI attention: pytorch SDPA (--use-pytorch-cross-attention) or ComfyUI's default")
    p.add_argument("--rounds", type=int, default=1, help="repeat every row this many times; the best round counts")
    p.add_argument("--no-sdxl", action="store_true", help="skip the SDXL rows")
    p.add_argument("--no-map", action="store_true", help="skip the spatial-map (depth GLIGEN) rows")
    p.add_argument("--compile", action="store_true",
                   help="add SD1.x rows under core's TorchCompileModel (inductor): ungrounded and ours, tau = 1")
    return p.parse_args()


class PeakMemory:
    """Peak resident memory of this process (or CUDA allocator peak) while a block runs."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        import psutil
        import torch
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        self.proc = psutil.Process()
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


def random_unet(config):
    """A ComfyUI model (ModelPatcher) from a UNet config, with seeded random weights."""
    import comfy.ldm.modules.diffusionmodules.openaimodel as openaimodel
    import comfy.ops
    import comfy.sd
    import torch
    from gligen_pack.runner.demo_models import _randomize_meta
    with torch.device("meta"):
        unet = openaimodel.UNetModel(**config, operations=comfy.ops.disable_weight_init)
    return comfy.sd.load_diffusion_model_state_dict(_randomize_meta(unet, 0))


def adapter_ref(path):
    from gligen_pack.gligen_core import load_adapter
    from gligen_pack.nodes.types import AdapterRef
    return AdapterRef(load_adapter(path))


first_runs: dict[str, float] = {}  # seconds of the warm-up step of each row (compiling, for compiled rows)


def compiled_rows(rows):
    """The ungrounded and tau = 1 rows again, each under core's TorchCompileModel wrapper (inductor)."""
    from comfy_api.torch_helpers import set_torch_compile_wrapper
    out = []
    for name, model, positive in rows:
        if name in ("ungrounded", "ours, tau = 1"):
            m = model.clone()
            set_torch_compile_wrapper(m, backend="inductor")
            out.append((f"compiled {name}", m, positive))
    return out


def time_rows(rows, noise, negative, latent, opts, device):
    """``{name: (seconds per step, peak bytes, rise bytes)}``, best of ``opts.rounds``."""
    import comfy.model_management as mm
    import comfy.sample
    import torch
    results = {}
    for _ in range(opts.rounds):
        for name, model, positive in rows:
            start = time.perf_counter()
            with torch.inference_mode():
                comfy.sample.sample(model, noise, 1, 7.0, "euler", "normal", positive, negative, latent, seed=0,
                                    disable_pbar=True)
            first_runs.setdefault(name, time.perf_counter() - start)
            mm.soft_empty_cache()
            with PeakMemory(device) as mem, torch.inference_mode():
                start = time.perf_counter()
                comfy.sample.sample(model, noise, opts.steps, 7.0, "euler", "normal", positive, negative, latent,
                                    seed=0, disable_pbar=True)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                per_step = (time.perf_counter() - start) / opts.steps
            if name not in results or per_step < results[name][0]:
                results[name] = (per_step, mem.peak, mem.peak - mem.start)
            print(f"  {name:<22} {per_step:8.3f} s/step", flush=True)
    return results


def table(results, base, core=None):
    head = "| run | s/step |" + (" x core |" if core else "") + " x ungrounded | peak memory | rise while sampling |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for name, (t, peak, rise) in results.items():
        print(f"| {name} | {t:.3f} |" + (f" {t / core:.2f} |" if core else "") +
              f" {t / base:.2f} | {peak / 2**30:.2f} GiB | {rise / 2**20:.0f} MiB |")


def grounding_for(size, dim, gen):
    import torch
    from gligen_pack.gligen_core import Grounding
    scale = size / 512
    boxes = [tuple(v * scale for v in b) for b in BOXES_PX]
    feats = torch.randn(len(boxes), dim, generator=gen) * 2
    g = Grounding(tuple(f"thing {i}" for i in range(len(boxes))),
                  torch.tensor([[x0 / size, y0 / size, x1 / size, y1 / size] for x0, y0, x1, y1 in boxes]), feats)
    return g, boxes, feats


def sd1_section(opts, device, machine):
    import comfy.sample
    import comfy.sd
    import torch
    from safetensors.torch import save_file
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.sampler import scheduled_model
    from gligen_pack.nodes.types import GROUNDING_KEY
    from gligen_pack.runner.demo_models import TINY_FUSERS, UNET_CONFIG
    from helpers.gligen_files import SD1_FUSERS, pruned_state

    size = opts.size or (256 if opts.fast else 512)
    config, fusers = (UNET_CONFIG, TINY_FUSERS) if opts.fast else (SD15_UNET, [(p, d) for p, _, d in SD1_FUSERS])
    print(f"SD1.x: building a random {'small' if opts.fast else 'full-size SD1.5'} UNet and GLIGEN file ...", flush=True)
    model = random_unet(config)
    params = list(model.model.diffusion_model.parameters())
    path = os.path.join(tempfile.mkdtemp(), "gligen.safetensors")
    save_file(pruned_state(fusers, seed=1, gate=0.5), path)
    ref = adapter_ref(path)
    core_gligen = comfy.sd.load_gligen(path)

    gen = torch.Generator().manual_seed(0)
    ctx_pos, ctx_neg = torch.randn(1, 77, 768, generator=gen), torch.randn(1, 77, 768, generator=gen)
    grounding, boxes, feats = grounding_for(size, 768, gen)
    core_params = [(feats[i:i + 1], int(y1 - y0) // 8, int(x1 - x0) // 8, int(y0) // 8, int(x0) // 8)
                   for i, (x0, y0, x1, y1) in enumerate(boxes)]
    latent = torch.zeros(1, 4, size // 8, size // 8)

    def ours(**kw):
        return grounded_model(model, ref, **kw)

    ours_pos = [[ctx_pos, {GROUNDING_KEY: grounding}]]
    rows = [
        ("ungrounded", model, [[ctx_pos, {}]]),
        ("core GLIGEN", model, [[ctx_pos, {"gligen": ("position", core_gligen, core_params)}]]),
        ("ours, tau = 1", ours(), ours_pos),
        ("ours, tau = 0.3", scheduled_model(ours(), opts.steps, 0.3, 0.0), ours_pos),
        ("ours, ReGround", ours(reground=True), ours_pos),
        ("ours, tau = 0", scheduled_model(ours(), opts.steps, 0.0, 0.0), ours_pos),  # what a skipped step costs
    ]
    for _, m, _ in rows:  # no second copy of the UNet: every patched model shares the base model's modules
        assert m.model is model.model
    if opts.compile:
        rows += compiled_rows(rows)
    results = time_rows(rows, comfy.sample.prepare_noise(latent, 0), [[ctx_neg, {}]], latent, opts, device)
    base, core = results["ungrounded"][0], results["core GLIGEN"][0]
    print()
    print(f"SD1.x: UNet {sum(p.numel() for p in params) / 1e6:.1f} M params, {size}x{size}, euler, cfg 7, "
          f"{len(boxes)} boxes, {opts.steps} timed steps, attention: {opts.attention}, {machine}")
    table(results, base, core)
    tau1 = results["ours, tau = 1"][0] / core
    overhead = (results["ours, tau = 0.3"][0] - base) / (core - base)
    print()
    print(f"tau = 1 sampling time vs core: {tau1:.2f}x (target <= 0.85): {'PASS' if tau1 <= 0.85 else 'FAIL'}")
    print(f"tau = 0.3 overhead over ungrounded vs core's overhead: {overhead:.2f}x (target <= 0.35): "
          f"{'PASS' if overhead <= 0.35 else 'FAIL'}")
    if opts.compile:
        eager = results["ours, tau = 1"][0] - base
        compiled = results["compiled ours, tau = 1"][0] - results["compiled ungrounded"][0]
        print(f"torch.compile: grounding adds {compiled:.3f} s/step compiled against {eager:.3f} uncompiled "
              f"({compiled / eager:.2f}x; target: about 1x, not more); first compiled runs (compiling included): "
              + ", ".join(f"{n} {first_runs[n]:.0f} s" for n in first_runs))
    print("no second copy of the UNet weights: every patched model shares the base model's modules: PASS")
    adapter_bytes = sum(p.numel() * p.element_size() for p in ref.runtime(model.model.get_dtype())[0].parameters())
    print(f"weights held: UNet {sum(p.numel() * p.element_size() for p in params) / 2**30:.2f} GiB once; GLIGEN "
          f"{adapter_bytes / 2**30:.2f} GiB for ours and the same again for core's own copy (both loaded here)")


def sdxl_section(opts, device, machine):
    import comfy.sample
    import torch
    from safetensors.torch import save_file
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.sampler import scheduled_model
    from gligen_pack.nodes.types import GROUNDING_KEY
    from gligen_pack.runner.demo_models import SDXL_UNET_CONFIG, gligen_xl_fusers, random_gligen_state

    size = opts.size or (256 if opts.fast else 512)
    print("\nSDXL: building a small SDXL-layout UNet (70 transformer blocks) and a 70-fuser GLIGEN-XL adapter ...",
          flush=True)
    model = random_unet(SDXL_UNET_CONFIG)
    path = os.path.join(tempfile.mkdtemp(), "gligen_xl.safetensors")
    save_file(random_gligen_state(gligen_xl_fusers(320), seed=1, phrase_dim=2048, token_dim=2048), path)
    ref = adapter_ref(path)
    gen = torch.Generator().manual_seed(0)
    extra = {"pooled_output": torch.randn(1, 1280, generator=gen)}
    ctx_pos, ctx_neg = torch.randn(1, 77, 2048, generator=gen), torch.randn(1, 77, 2048, generator=gen)
    grounding, boxes, _ = grounding_for(size, 2048, gen)
    latent = torch.zeros(1, 4, size // 8, size // 8)
    ours = grounded_model(model, ref)
    ours_pos = [[ctx_pos, {**extra, GROUNDING_KEY: grounding}]]
    rows = [("SDXL ungrounded", model, [[ctx_pos, dict(extra)]]),
            ("SDXL ours, tau = 1", ours, ours_pos),
            ("SDXL ours, tau = 0.3", scheduled_model(ours, opts.steps, 0.3, 0.0), ours_pos)]
    results = time_rows(rows, comfy.sample.prepare_noise(latent, 0), [[ctx_neg, dict(extra)]], latent, opts, device)
    params = sum(p.numel() for p in model.model.diffusion_model.parameters())
    adapter = sum(p.numel() for p in ref.adapter.parameters())
    print()
    print(f"SDXL: UNet {params / 1e6:.1f} M params (SDXL depths, width 320), GLIGEN-XL adapter {adapter / 1e6:.1f} M params "
          f"(70 fusers), {size}x{size}, euler, cfg 7, {len(boxes)} boxes, {opts.steps} timed steps, {machine}")
    table(results, results["SDXL ungrounded"][0])


def map_section(opts, device, machine):
    """A depth GLIGEN (ConvNeXt-T tokenizer, 8 extra first-conv channels) on the SD1.x UNet: its
    tokenizer must run once per sampling run, not per step."""
    import comfy.sample
    import torch
    from safetensors.torch import save_file
    from gligen_pack.gligen_core.maps import GroundingMap
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.runtime import compute_dtype
    from gligen_pack.nodes.sampler import scheduled_model
    from gligen_pack.nodes.types import GROUNDING_KEY
    from gligen_pack.runner.demo_models import TINY_FUSERS, UNET_CONFIG
    from helpers.gligen_files import SD1_FUSERS
    from helpers.map_files import CONVNEXT_T, map_state

    size = opts.size or (256 if opts.fast else 512)
    config, fusers = (UNET_CONFIG, TINY_FUSERS) if opts.fast else (SD15_UNET, [(p, d) for p, _, d in SD1_FUSERS])
    print(f"\nMaps: a random {'small' if opts.fast else 'full-size SD1.5'} UNet and a depth GLIGEN with a "
          f"ConvNeXt-T tokenizer ...", flush=True)
    model = random_unet(config)
    path = os.path.join(tempfile.mkdtemp(), "gligen_depth.safetensors")
    save_file(map_state("depth", fusers, seed=1, hidden=512, **CONVNEXT_T), path)
    ref = adapter_ref(path)
    gen = torch.Generator().manual_seed(0)
    ctx_pos, ctx_neg = torch.randn(1, 77, 768, generator=gen), torch.randn(1, 77, 768, generator=gen)
    depth = GroundingMap.from_image("canny-depth", torch.rand(1, size, size, 3, generator=gen), "map")
    latent = torch.zeros(1, 4, size // 8, size // 8)
    ours = grounded_model(model, ref)
    trunk = ref.runtime(compute_dtype(model.model))[0].position_net.convnext_tiny_backbone
    calls = []
    hook = trunk.register_forward_hook(lambda *_: calls.append(1))
    pos = [[ctx_pos, {GROUNDING_KEY: depth}]]
    rows = [("ungrounded", model, [[ctx_pos, {}]]),
            ("depth, tau = 1", ours, pos),
            ("depth, tau = 0.3", scheduled_model(ours, opts.steps, 0.3, 0.0), pos),
            ("depth, tau = 0", scheduled_model(ours, opts.steps, 0.0, 0.0), pos)]
    results = time_rows(rows, comfy.sample.prepare_noise(latent, 0), [[ctx_neg, {}]], latent, opts, device)
    hook.remove()
    runs = 2 * opts.rounds * 2        # two sampling runs (warm-up, timed) per row and round, two rows tokenize
    print()
    print(f"Maps: depth GLIGEN ({sum(p.numel() for p in ref.adapter.parameters()) / 1e6:.1f} M params, ConvNeXt-T "
          f"tokenizer, 8 extra first-conv channels), {size}x{size}, euler, cfg 7, {opts.steps} timed steps, {machine}")
    table(results, results["ungrounded"][0])
    print(f"ConvNeXt-T runs: {len(calls)} in {runs} grounded sampling runs ({len(calls) / runs:g} per run; target 1, "
          f"not one per step): {'PASS' if len(calls) == runs else 'FAIL'}")


def main():
    opts = parse()
    import torch
    import conftest  # noqa: F401  (imports the pack as gligen_pack)
    from gligen_pack.runner.host import Host
    Host.boot(cpu=not torch.cuda.is_available(), quiet=True, use_pytorch_cross_attention=opts.attention == "pytorch")
    import comfy.model_management as mm
    device = mm.get_torch_device()
    machine = f"{device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                                  f", {os.cpu_count()} cores, torch {torch.__version__}")
    sd1_section(opts, device, machine)
    if not opts.no_sdxl:
        sdxl_section(opts, device, machine)
    if not opts.no_map:
        map_section(opts, device, machine)


if __name__ == "__main__":
    main()
