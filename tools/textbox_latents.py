"""Check that the text-box path is unchanged: run the same text-box graphs (always on, ReGround, core-
compatible negative, scheduled sampling at tau = 0.5) from this checkout and from another one (e.g. a
worktree of the commit before a change) on the tiny demo models, and compare the final latents bit for bit.

    python tools/textbox_latents.py /path/to/other/checkout

Each checkout runs in its own process (the pack is imported from that checkout); needs a ComfyUI host.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_graphs(root: str, out: str) -> None:
    sys.path.insert(0, os.path.join(root, "tests"))
    import conftest  # noqa: F401  (imports the pack of `root` as gligen_pack)
    import torch
    from gligen_pack.runner.demo_models import build_sd1_checkpoint, cached, gligen_for
    from gligen_pack.runner.host import Host
    from helpers.prompts import Graph, base, finish, ksampler, ours, scheduled
    d = tempfile.mkdtemp()
    for kind, name, build in (("checkpoints", "sd1_tiny.safetensors", build_sd1_checkpoint),
                              ("gligen", "gligen_tiny.safetensors", gligen_for)):
        os.makedirs(os.path.join(d, kind))
        os.symlink(cached(name, build), os.path.join(d, kind, name))
    host = Host.boot(conftest.HOST, cpu=True, output_dir=f"{d}/out", temp_dir=f"{d}/temp", input_dir=f"{d}/in",
                     model_dirs={k: [os.path.join(d, k)] for k in ("checkpoints", "gligen")})
    assert host.load_pack()
    latents = {}
    for name, options, tau in (("always on", {}, None), ("ReGround", {"reground": True}, None),
                               ("core-compatible negative", {"negative_mode": "same_as_positive"}, None),
                               ("scheduled, tau = 0.5", {}, 0.5)):
        g = Graph()
        b = base(g, "sd1_tiny.safetensors")
        m, pos, _ = ours(g, b, "gligen_tiny.safetensors", **options)
        node = (ksampler(g, m, pos, b["negative"], b["latent"], steps=4) if tau is None else
                scheduled(g, m, pos, b["negative"], b["latent"], steps=4, tau=tau))
        finish(g, node, b["vae"])
        result = host.run(g.prompt())
        assert result.success, result.error()
        latents[name] = result.output(node)[0]["samples"].clone()
    torch.save(latents, out)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--run":
        return run_graphs(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import torch
    d = tempfile.mkdtemp()
    outs = []
    for root in (ROOT, os.path.abspath(sys.argv[1])):
        out = os.path.join(d, f"{len(outs)}.pt")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--run", root, out], check=True,
                       stdout=subprocess.DEVNULL)
        outs.append(torch.load(out))
    same = True
    for name, latent in outs[0].items():
        equal = torch.equal(latent, outs[1][name])
        same &= equal
        print(f"{name:<26} {'bit-identical' if equal else 'DIFFERENT'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
