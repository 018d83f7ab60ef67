"""How a prompt sent to the test server ended: refused when queued, failed while running, or succeeded."""
from __future__ import annotations

import json
import os

import torch
from safetensors.torch import load_file

from .server import ComfyServer, execution_error


def rejected(server: ComfyServer, prompt: dict) -> str:
    """The prompt must be refused as a whole when queued (HTTP 400 with node_errors, as for core nodes:
    nothing of it runs); returns every error text of it."""
    status, body = server.queue(prompt)
    assert status == 400 and body.get("node_errors"), f"expected the prompt refused, got {status}: {body}"
    return json.dumps(body)


def failed(server: ComfyServer, prompt: dict) -> dict:
    """The prompt validates but a node fails while running; returns the execution error."""
    entry = server.run(prompt)
    err = execution_error(entry)
    assert err is not None, f"expected an execution error: {entry.get('status')}"
    return err


def succeeded(server: ComfyServer, prompt: dict) -> dict:
    entry = server.run(prompt)
    assert execution_error(entry) is None, execution_error(entry)
    assert entry["status"]["status_str"] == "success"
    return entry


def latent_of(server: ComfyServer, entry: dict, node: str) -> torch.Tensor:
    info = entry["outputs"][node]["latents"][0]
    return load_file(os.path.join(server.base_dir, "output", info["subfolder"], info["filename"]))["latent_tensor"]
