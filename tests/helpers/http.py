"""Outcomes of prompts sent over HTTP to the test server (see ``server.py``)."""
from __future__ import annotations

import json
import os

import torch
from safetensors.torch import load_file

from .server import execution_error


def succeeded(server, prompt) -> dict:
    """The prompt validates and runs to the end; returns its history entry."""
    entry = server.run(prompt)
    assert execution_error(entry) is None, execution_error(entry)
    assert entry["status"]["status_str"] == "success"
    return entry


def failed(server, prompt) -> dict:
    """The prompt validates but a node fails while running; returns the execution error."""
    entry = server.run(prompt)
    err = execution_error(entry)
    assert err is not None, f"expected an execution error: {entry.get('status')}"
    return err


def refused(server, prompt) -> dict:
    """The prompt is refused as a whole when queued (HTTP 400); returns the response body."""
    status, body = server.queue(prompt)
    assert status == 400, f"expected the prompt to be refused, got {status}: {json.dumps(body)[:1000]}"
    return body


def latent_of(server, entry, node) -> torch.Tensor:
    """The latent a SaveLatent node of a finished prompt wrote."""
    assert node in entry["outputs"], (node, list(entry["outputs"]), entry.get("status"))
    info = entry["outputs"][node]["latents"][0]
    return load_file(os.path.join(server.base_dir, "output", info["subfolder"], info["filename"]))["latent_tensor"]
