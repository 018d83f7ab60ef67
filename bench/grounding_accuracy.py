"""Does the pack's grounding ground? A synthetic world where the answer can be scored without downloads.

    python bench/grounding_accuracy.py            # the CPU setting (sized for about 30 min on 2 cores)
    python bench/grounding_accuracy.py --quick    # a few minutes: too short to ground, checks the pipeline
    python bench/grounding_accuracy.py --large    # the GPU setting (CUDA)

1. World: latents (4 channels) of one or two coloured shapes (square, circle) at random places on a
   faint noisy background of fixed ramps (each place of the scene looks a little different, as in
   photographs); colour c puts its mass on latent channel c (red, green, blue, yellow), so an
   object's mass is readable in latent space. Captions name the objects ("a red square and a blue
   circle"); each object's box is its bounding box and its phrase ("a red square").
2. Base: a tiny SD1.x model, ComfyUI's own UNetModel in ComfyUI's SD1.5 BaseModel (its noise
   schedule; v-prediction by default, ComfyUI's model type for SD2.x-v style models, ``--set
   prediction=eps`` for SD1.5's) with the demo checkpoint's CLIP-L, pretrained briefly on the world
   (text-to-latent, random places, caption dropout 0.1 for classifier-free guidance). With v the base
   and the adapter are trained on the high-noise steps, where a layout is decided, as much as on the
   low-noise ones (eps weighs a high-noise step's error on the picture by its tiny signal-to-noise
   ratio); in our runs the adapter came to read the boxes sooner on a v base, and its boxes helped at
   high noise, where on an eps base they hurt.
3. Adapter: trained with the pack's trainer (``train.trainer.train``) on a manifest of the world's
   latents with boxes; the recipe's dropouts, lr 2e-4 (4x the paper's, for a short run) and 1e-2 for
   the fusers' scalar gates (Adam moves a parameter by about its lr a step: at 2e-4 the gates, which
   start at 0 and hold the rest back while small, would need thousands of steps to open), no flips
   (the world's light comes from one side, so a mirrored scene is not of this world).
4. Sampling: on held-out layouts, through ComfyUI's sampler (``comfy.sample.sample``, euler, cfg 5)
   with the pack's own GLIGENApply patch (``nodes.apply.grounded_model``), phrase features made as
   GroundingEncoder makes them (``nodes.encoder.phrase_features``, cached per phrase), the
   null-grounded negative; grounded with tau = 1 and tau = 0.3
   (ScheduledSampler's schedule), and ungrounded (the base model with the same caption).
5. Does the adapter read the boxes at all? On held-out scenes, the denoising loss with the boxes is
   divided by the loss with the null grounding (same adapter, same gates): 1.000 means the boxes
   change nothing yet, below 1 means the adapter uses them. Cheap, and telling where the hit rate
   is low: the gates can open on what the fusers add to an under-trained base without the boxes
   being read. With the captions kept the boxes can add only where the objects are; with empty
   captions they also tell what the objects are (reading a phrase is learnt long before placing it).
6. Score: an object hits when at least half of its colour's mass (the positive part of its channel
   above the background in the sampled latent) lies inside its box; it counts as drawn when that
   mass is at least half the mass the object has in the world (wherever it lies). The table gives the hit rate of each setting and the
   time of each stage. Target: grounded hit rate >= 0.8 and >= 2x the ungrounded rate.

Needs torch and ComfyUI (found as the pack finds it: $COMFYUI_PATH, /opt/ComfyUI, ...); accelerate and
tensorboard are used when installed and not needed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLOURS = ("red", "green", "blue", "yellow")   # colour i lives on latent channel i
SHAPES = ("square", "circle")


@dataclass(frozen=True)
class Setting:
    latent: int = 8                  # latent side (the image would be 8x larger)
    channels: int = 32               # UNet width
    pretrain_steps: int = 1500
    pretrain_batch: int = 32
    pretrain_lr: float = 1e-3
    train_rows: int = 4096
    train_steps: int = 7500
    train_batch: int = 32
    train_lr: float = 2e-4           # 4x the paper's 5e-5; at 5e-4 and above the tokens' norms ran away (README)
    gate_lr: float = 1e-2            # the gates' own lr (the trainer's gate_learning_rate); at 2e-4 they stayed
                                     # below 0.4 after 7500 steps and the hit rate was 0.47, not 0.84 (README)
    warmup: int = 50
    eval_layouts: int = 96
    sample_steps: int = 20
    cfg: float = 5.0
    amplitude: float = 2.0
    prediction: str = "v"            # the base's prediction type: "v" or "eps" (SD1.5's); see point 2 above
    levels: int = 2                  # UNet levels (each halves the resolution), a transformer block at each
    caption_dropout: float = 0.5     # the adapter's (the paper's)


CPU = Setting()  # 25 to 27 minutes on the idle 2-core build machine with two torch threads (README)
QUICK = replace(CPU, pretrain_steps=20, train_steps=20, train_rows=256, eval_layouts=8, sample_steps=10)
# Not run yet (no GPU was lent since the CPU setting changed); a 16x16 world, a wider UNet, many more steps.
LARGE = replace(CPU, latent=16, channels=64, pretrain_steps=4000, pretrain_batch=64, train_steps=20000,
                train_batch=64, train_rows=16000, eval_layouts=96, warmup=200)


def import_pack():
    """The pack as the package ``gligen_pack`` (as the tests import it), wherever its folder is."""
    if "gligen_pack" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gligen_pack", os.path.join(ROOT, "__init__.py"),
                                                      submodule_search_locations=[ROOT])
        module = importlib.util.module_from_spec(spec)
        sys.modules["gligen_pack"] = module
        spec.loader.exec_module(module)


# ---- the world ---------------------------------------------------------------------------------------

def layout(gen, side: int) -> list[tuple[int, int, tuple[int, int, int, int]]]:
    """One or two objects ``(colour, shape, (x0, y0, x1, y1) in latent pixels)``, distinct colours, apart."""
    import torch
    n = 1 + int(torch.randint(0, 2, (1,), generator=gen))
    colours = torch.randperm(len(COLOURS), generator=gen)[:n].tolist()
    objs: list[tuple[int, int, tuple[int, int, int, int]]] = []
    while len(objs) < n:
        size = int(torch.randint(side // 4, side // 2 + 1, (1,), generator=gen))
        x0, y0 = (int(v) for v in torch.randint(0, side - size + 1, (2,), generator=gen))
        box = (x0, y0, x0 + size, y0 + size)
        if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for _, _, b in objs):
            objs.append((colours[len(objs)], int(torch.randint(0, len(SHAPES), (1,), generator=gen)), box))
    return objs


def phrase(colour: int, shape: int) -> str:
    return f"a {COLOURS[colour]} {SHAPES[shape]}"


def caption(objs) -> str:
    return " and ".join(phrase(c, s) for c, s, _ in objs)


def background(side: int):
    """The scene every object sits in: faint fixed ramps (light from the left, a floor below) give each
    place of the canvas its own look, as in photographs, so the UNet's features can tell where they are."""
    import torch
    ramp = (torch.arange(side) + 0.5) / side * 2 - 1
    yy, xx = torch.meshgrid(ramp, ramp, indexing="ij")
    return 0.4 * torch.stack((xx, yy, -xx, -yy))


def render(objs, side: int, amplitude: float, gen):
    import torch
    x = background(side) + 0.1 * torch.randn(4, side, side, generator=gen)
    yy, xx = torch.meshgrid(torch.arange(side) + 0.5, torch.arange(side) + 0.5, indexing="ij")
    for colour, shape, (x0, y0, x1, y1) in objs:
        inside = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        if SHAPES[shape] == "circle":
            r = (x1 - x0) / 2
            inside &= (xx - (x0 + x1) / 2) ** 2 + (yy - (y0 + y1) / 2) ** 2 <= r * r
        x[:, inside] = 0.0
        x[colour, inside] = amplitude
    return x


def hits(latent, objs, amplitude: float) -> list[tuple[bool, bool]]:
    """Per object ``(hit, drawn)``: at least half of its colour's mass (its channel above the background)
    inside its box; and at least half the mass the object has in the world drawn anywhere."""
    out = []
    excess = latent - background(latent.shape[-1])
    for colour, shape, (x0, y0, x1, y1) in objs:
        mass = excess[colour].clamp(min=0)
        total = float(mass.sum())
        expected = amplitude * (x1 - x0) * (y1 - y0) * (0.785 if SHAPES[shape] == "circle" else 1.0)
        out.append((total > 0 and float(mass[y0:y1, x0:x1].sum()) / total >= 0.5, total >= 0.5 * expected))
    return out


# ---- stages ---------------------------------------------------------------------------------------------

def pretrain(base, s: Setting, device, say) -> float:
    """Text-to-latent training of the whole tiny UNet on the world (random places)."""
    import torch
    import torch.nn.functional as F
    from gligen_pack.train.objective import noised
    unet = base.unet
    unet.requires_grad_(True).train()
    opt = torch.optim.AdamW(unet.parameters(), lr=s.pretrain_lr, weight_decay=0.0)
    alphas = base.alphas_cumprod.to(device)
    gen = torch.Generator().manual_seed(1000)
    loss = float("nan")
    for step in range(s.pretrain_steps):
        for g in opt.param_groups:
            g["lr"] = s.pretrain_lr * min(1.0, (step + 1) / s.warmup)
        xs, ctx = [], []
        for _ in range(s.pretrain_batch):
            objs = layout(gen, s.latent)
            xs.append(render(objs, s.latent, s.amplitude, gen))
            ctx.append(base.caption("" if float(torch.rand(1, generator=gen)) < 0.1 else caption(objs))[0])
        x0 = torch.stack(xs).to(device)
        noise = torch.randn(x0.shape, generator=gen).to(device)
        t = torch.randint(0, len(alphas), (len(xs),), generator=gen).to(device)
        x_t, target = noised(alphas, base.prediction, x0, noise, t)  # the trainer's own noising and target
        out = unet(x_t, t.float(), context=torch.stack(ctx).to(device))
        l = F.mse_loss(out.float(), target)
        opt.zero_grad(set_to_none=True)
        l.backward()
        opt.step()
        loss = float(l.detach())
        if (step + 1) % max(1, s.pretrain_steps // 10) == 0:
            say(f"  pretrain step {step + 1}/{s.pretrain_steps}: loss {loss:.4f}")
    unet.requires_grad_(False).eval()
    return loss


def unet_config(s: Setting) -> dict:
    """The tiny UNet of the setting: TINY_UNET's blocks, ``s.levels`` levels (widths 1x, 2x, 2x, ...)."""
    from gligen_pack.train.tiny_base import TINY_UNET
    n = s.levels
    return dict(TINY_UNET, image_size=s.latent, model_channels=s.channels, num_res_blocks=[1] * n,
                channel_mult=[1] + [2] * (n - 1), transformer_depth=[1] * n, transformer_depth_output=[1] * (2 * n))


def write_data(s: Setting, folder: str) -> str:
    """The adapter's training set as the trainer reads it: latent files and a JSONL manifest."""
    import torch
    from safetensors.torch import save_file
    gen = torch.Generator().manual_seed(2000)
    os.makedirs(folder, exist_ok=True)
    px = s.latent * 8
    manifest = os.path.join(folder, "manifest.jsonl")
    with open(manifest, "w") as f:
        for i in range(s.train_rows):
            objs = layout(gen, s.latent)
            name = f"{i:06d}.safetensors"
            save_file({"latent": render(objs, s.latent, s.amplitude, gen).contiguous()}, os.path.join(folder, name))
            boxes = [{"phrase": phrase(c, sh), "box": [b[0] / s.latent, b[1] / s.latent, b[2] / s.latent,
                                                         b[3] / s.latent]} for c, sh, b in objs]
            f.write(json.dumps({"latent": name, "width": px, "height": px, "caption": caption(objs),
                                "boxes": boxes}) + "\n")
    return manifest


def train_adapter(base, s: Setting, manifest: str, out: str, cpu: bool, say):
    from gligen_pack.train.config import config_from_dict
    from gligen_pack.train.trainer import train
    cfg = config_from_dict(dict(
        checkpoint=base.name, manifest=manifest, output=out, name="gligen_synthetic", resolution=s.latent * 8,
        batch_size=s.train_batch, max_steps=s.train_steps, learning_rate=s.train_lr, warmup_steps=s.warmup,
        save_every=s.train_steps, log_every=10, cache_latents=True, cpu=cpu, mixed_precision="no",
        caption_dropout=s.caption_dropout, gate_learning_rate=s.gate_lr,
        flip=False))  # the world's light comes from the left: a mirrored scene is not of this world
    return train(cfg, base=base, say=say)


def evaluate(base, adapter_path: str, s: Setting, say) -> dict[str, tuple[float, float, int, float]]:
    """Hit rate, drawn rate, objects and seconds for tau = 1, tau = 0.3 and ungrounded, on held-out layouts."""
    import comfy.sample
    import torch
    from gligen_pack.gligen_core import Grounding
    from gligen_pack.nodes.apply import grounded_model
    from gligen_pack.nodes.loader import load_ref
    from gligen_pack.nodes.sampler import scheduled_model
    from gligen_pack.nodes.types import GROUNDING_KEY
    ref = load_ref(adapter_path)
    grounded = grounded_model(base.model, ref, 1.0)
    models = {"grounded, tau = 1": grounded,
              "grounded, tau = 0.3": scheduled_model(grounded, s.sample_steps, 0.3, 0.0),
              "ungrounded": base.model}
    gen = torch.Generator().manual_seed(3000)  # held out: the training layouts come from seeds 1000 and 2000
    layouts = [layout(gen, s.latent) for _ in range(s.eval_layouts)]
    negative = [[base.caption("")[0][None], {}]]
    results = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        scored = []
        for i, objs in enumerate(layouts):
            context = base.caption(caption(objs))[0][None]
            extra = {}
            if model is not base.model:
                phrases = [phrase(c, sh) for c, sh, _ in objs]
                boxes = torch.tensor([[b[0] / s.latent, b[1] / s.latent, b[2] / s.latent, b[3] / s.latent]
                                      for _, _, b in objs], dtype=torch.float32)
                features = torch.stack([base.phrase_feature(p, ref.adapter.phrase_dim) for p in phrases])
                extra[GROUNDING_KEY] = Grounding(tuple(phrases), boxes, features)
            latent = torch.zeros(1, 4, s.latent, s.latent)
            noise = comfy.sample.prepare_noise(latent, 10_000 + i)
            out = comfy.sample.sample(model, noise, s.sample_steps, s.cfg, "euler", "normal", [[context, extra]],
                                      negative, latent, disable_pbar=True, seed=10_000 + i)
            scored += hits(base.model.model.process_latent_in(out.float().cpu())[0], objs, s.amplitude)  # the sampler returns
            # latents scaled out of the model's space (process_latent_out); scoring is in the world's own units
        results[name] = (sum(h for h, _ in scored) / len(scored), sum(d for _, d in scored) / len(scored),
                         len(scored), time.perf_counter() - t0)
        say(f"  {name}: hit rate {results[name][0]:.3f}, drawn {results[name][1]:.3f} over {len(scored)} objects "
            f"({results[name][3]:.0f} s)")
    return results


def box_use(base, adapter_path: str, s: Setting, n: int = 64, captions: bool = True) -> list[tuple[int, float, float]]:
    """``(timestep, loss with the boxes, loss with the null grounding)`` on held-out scenes. With the captions
    kept the boxes can add only where the objects are; with empty captions they also tell what they are."""
    import torch
    from gligen_pack.gligen_core import MAX_OBJECTS, load_adapter
    from gligen_pack.train.objective import Batch, GroundedDenoiser
    adapter = load_adapter(adapter_path).adapter.float()
    denoiser = GroundedDenoiser(adapter, base.unet, base.alphas_cumprod, base.prediction)
    device = next(base.unet.parameters()).device
    gen = torch.Generator().manual_seed(4000)
    scenes = [layout(gen, s.latent) for _ in range(n)]
    x0 = torch.stack([render(o, s.latent, s.amplitude, gen) for o in scenes]).to(device)
    context = torch.stack([base.caption(caption(o) if captions else "")[0] for o in scenes]).to(device)
    boxes, masks = torch.zeros(n, MAX_OBJECTS, 4), torch.zeros(n, MAX_OBJECTS)
    features = torch.zeros(n, MAX_OBJECTS, adapter.phrase_dim)
    for i, objs in enumerate(scenes):
        for j, (c, sh, b) in enumerate(objs):
            boxes[i, j] = torch.tensor(b, dtype=torch.float32) / s.latent
            masks[i, j] = 1.0
            features[i, j] = base.phrase_feature(phrase(c, sh), adapter.phrase_dim)
    boxes, masks, features = boxes.to(device), masks.to(device), features.to(device)
    noise = torch.randn(x0.shape, generator=gen).to(device)
    out = []
    with torch.no_grad():
        for t in (250, 500, 750):
            steps = torch.full((n,), t, device=device)
            x_t, target = denoiser.noised(Batch(x0, noise, steps, context, None, boxes, masks, features))
            losses = [float(((denoiser.predict(x_t, steps, context, None, boxes, m, features * m[..., None])
                              - target) ** 2).mean()) for m in (masks, torch.zeros_like(masks))]
            out.append((t, losses[0], losses[1]))
    return out


def machine() -> str:
    import torch
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return (f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} "
            f"torch thread(s), torch {torch.__version__}")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--large", "--gpu", action="store_true", help="the GPU setting (16x16 latents, 64-channel UNet, "
                                                                   "4000 + 20000 steps of 64, 96 layouts)")
    p.add_argument("--quick", action="store_true", help="a short run that checks the pipeline, not the grounding")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting field")
    p.add_argument("--cpu", action="store_true", help="stay on the CPU when a GPU is there")
    p.add_argument("--work", help="folder for the data and the adapter (default: a temporary one)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads on the CPU (default 2, for an idle 2-core machine: 1.7x faster than 1 "
                        "there). Beside another job use 1 with --set train_steps=4500: this model's operations "
                        "are tiny, and two threads stall whenever the cores are shared (measured beside a test "
                        "run: one 20-step sample took 45 s with 2 threads, 2 s with 1)")
    return p.parse_args()


def main() -> int:
    opts = parse()
    s = LARGE if opts.large else QUICK if opts.quick else CPU
    for item in opts.set:
        key, _, value = item.partition("=")
        s = replace(s, **{key: type(getattr(s, key))(value)})
    t_all = time.perf_counter()
    import_pack()
    import torch
    from gligen_pack.runner.host import Host
    Host.boot(cpu=opts.cpu or not torch.cuda.is_available(), quiet=True, use_pytorch_cross_attention=True)
    import comfy.model_management as mm
    from gligen_pack.train.tiny_base import tiny_base
    device = mm.get_torch_device()
    if device.type == "cpu" and opts.threads > 0:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(0)
    say = lambda m: print(m, flush=True)  # noqa: E731
    say(f"setting: {json.dumps(asdict(s))}\nmachine: {machine()}")
    times = {}
    base = tiny_base(unet_config(s), seed=0, device=device, prediction=s.prediction)
    times["setup"] = time.perf_counter() - t_all  # from the start: ComfyUI boot, tiny base, CLIP
    params = sum(p.numel() for p in base.unet.parameters())
    say(f"base: ComfyUI SD1.5 BaseModel ({s.prediction}-prediction), UNet {params / 1e6:.1f} M parameters, "
        f"{s.channels} channels, {s.levels} levels, {s.latent}x{s.latent} latents")
    t0 = time.perf_counter()
    pre_loss = pretrain(base, s, device, say)
    times["pretrain"] = time.perf_counter() - t0
    work = opts.work or tempfile.mkdtemp(prefix="gligen_bench_")
    t0 = time.perf_counter()
    manifest = write_data(s, os.path.join(work, "data"))
    times["data"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = train_adapter(base, s, manifest, os.path.join(work, "run"), opts.cpu or device.type != "cuda", say)
    times["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    use = {kept: box_use(base, result.adapter_path, s, captions=kept) for kept in (True, False)}
    times["box use"] = time.perf_counter() - t0
    for kept, rows in use.items():
        for t, with_boxes, null in rows:
            say(f"  held-out loss at t = {t}, captions {'kept' if kept else 'empty'}: with the boxes "
                f"{with_boxes:.4f}, null grounding {null:.4f} (ratio {with_boxes / null:.3f})")
    results = evaluate(base, result.adapter_path, s, say)
    total = time.perf_counter() - t_all
    g1, g03, un = (results[k][0] for k in ("grounded, tau = 1", "grounded, tau = 0.3", "ungrounded"))
    met = g1 >= 0.8 and g1 >= 2 * un
    n_obj = results["ungrounded"][2]
    print()
    print(f"grounding accuracy, {machine()}; UNet {params / 1e6:.1f} M, {s.latent}x{s.latent} latents, "
          f"{s.eval_layouts} held-out layouts ({n_obj} objects), euler {s.sample_steps} steps, cfg {s.cfg:g}")
    print()
    print("| stage | box-hit rate | objects drawn | time |")
    print("|---|---|---|---|")
    print(f"| setup (ComfyUI, tiny base, CLIP) | | | {times['setup']:.0f} s |")
    print(f"| base pretraining ({s.pretrain_steps} steps x {s.pretrain_batch}, final loss {pre_loss:.3f}) | | | "
          f"{times['pretrain']:.0f} s |")
    print(f"| data ({s.train_rows} latents + manifest) | | | {times['data']:.0f} s |")
    print(f"| adapter training, the pack's trainer ({s.train_steps} steps x {s.train_batch}, final loss "
          f"{result.losses[-1]:.3f}) | | | {times['train']:.0f} s |")
    ratios = {kept: ", ".join(f"t = {t}: {w / z:.3f}" for t, w, z in rows) for kept, rows in use.items()}
    print(f"| does the adapter read the boxes? held-out loss with the boxes / with the null grounding, "
          f"1.000 = not at all; captions kept (the boxes can add only where): {ratios[True]}; captions empty "
          f"(the boxes also tell what): {ratios[False]} | | | {times['box use']:.0f} s |")
    for name, (rate, drawn, n, secs) in results.items():
        print(f"| sampling {name} | {rate:.3f} | {drawn:.3f} | {secs:.0f} s |")
    print(f"| total | target: grounded >= 0.8 and >= 2x ungrounded: {'met' if met else 'NOT met'} "
          f"(tau = 1: {g1:.3f}, tau = 0.3: {g03:.3f}, ungrounded: {un:.3f}) | | {total:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
