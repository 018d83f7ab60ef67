"""Boot the installed ComfyUI in this process and run prompts through its own execution engine.

ComfyUI keeps global state (parsed arguments, model folders, loaded nodes), so there is one host per
process: ``boot()`` configures it once and later calls return the same object. Nothing here runs at
import time.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_comfyui(pack_dir: str = PACK_DIR) -> str | None:
    """``$COMFYUI_PATH``, then ``/opt/ComfyUI``, then a ComfyUI whose ``custom_nodes`` holds the pack."""
    candidates = [os.environ.get("COMFYUI_PATH", ""), "/opt/ComfyUI"]
    parent = os.path.dirname(os.path.abspath(pack_dir))
    if os.path.basename(parent) == "custom_nodes":
        candidates.append(os.path.dirname(parent))
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "main.py")) and os.path.isdir(os.path.join(c, "comfy")):
            return os.path.abspath(c)
    return None


class _Server:
    """What the execution engine needs of a PromptServer: a sink for its messages."""

    def __init__(self, on_message: Callable[[str, dict], None] | None) -> None:
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.on_message = on_message

    def send_sync(self, event: str, data: Any, sid: Any = None) -> None:
        if self.on_message is not None:
            self.on_message(event, data)

    def queue_updated(self) -> None:
        pass


@dataclass
class RunResult:
    success: bool
    prompt_id: str
    messages: list = field(default_factory=list)
    ui: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def output(self, node_id: str) -> tuple:
        """The values a node returned in this run (one entry per output socket)."""
        if str(node_id) not in self.values:
            raise KeyError(f"node {node_id} produced no outputs in this run")
        return self.values[str(node_id)]

    def error(self) -> dict | None:
        for event, data in self.messages:
            if event == "execution_error":
                return data
        return None


class Host:
    _instance: "Host | None" = None

    def __init__(self, comfy_path: str) -> None:
        self.comfy_path = comfy_path
        self.loaded_packs: dict[str, bool] = {}
        self.on_message: Callable[[str, dict], None] | None = None
        self._executor = None
        self._server = None

    @classmethod
    def boot(cls, comfy_path: str | None = None, *, cpu: bool = True, output_dir: str | None = None,
             temp_dir: str | None = None, input_dir: str | None = None,
             model_dirs: dict[str, list[str]] | None = None, quiet: bool = False, **cli_args: Any) -> "Host":
        """``cli_args`` set ComfyUI command-line options by attribute name (``use_pytorch_cross_attention=True``);
        they only take effect in the first boot of a process. ``quiet`` hides the warnings ComfyUI logs
        while it loads its own optional nodes (missing torchaudio and the like)."""
        if cls._instance is not None:
            cls._instance.add_model_dirs(model_dirs or {})
            return cls._instance
        comfy_path = comfy_path or find_comfyui()
        if comfy_path is None:
            raise RuntimeError("No ComfyUI found: set COMFYUI_PATH, install it in /opt/ComfyUI, or put this "
                               "pack in ComfyUI/custom_nodes.")
        if comfy_path not in sys.path:
            sys.path.insert(0, comfy_path)
        if "comfy.model_management" not in sys.modules:
            import comfy.options
            comfy.options.enable_args_parsing(False)
            from comfy.cli_args import args
            args.cpu = cpu or args.cpu
            args.disable_auto_launch = True
            for name, value in cli_args.items():
                if not hasattr(args, name):
                    raise ValueError(f"ComfyUI has no command-line option '{name}'")
                setattr(args, name, value)
        import folder_paths
        for setter, d in ((folder_paths.set_output_directory, output_dir), (folder_paths.set_temp_directory, temp_dir),
                          (folder_paths.set_input_directory, input_dir)):
            if d:
                os.makedirs(d, exist_ok=True)
                setter(d)
        import utils.install_util  # noqa: F401  (as main.py does, before nodes.py puts comfy/ first on sys.path)
        root = logging.getLogger()
        level = root.level
        if quiet:
            root.setLevel(logging.ERROR)
        try:
            import nodes
            asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        finally:
            root.setLevel(level)
        host = cls(comfy_path)
        host.add_model_dirs(model_dirs or {})
        cls._instance = host
        return host

    def add_model_dirs(self, model_dirs: dict[str, list[str]]) -> None:
        import folder_paths
        for kind, dirs in model_dirs.items():
            for d in dirs:
                folder_paths.add_model_folder_path(kind, d)

    def load_installed_custom_nodes(self) -> None:
        """Load the custom nodes installed in ComfyUI's custom_nodes folders, as the server does."""
        import nodes
        asyncio.run(nodes.init_external_custom_nodes())

    def load_pack(self, pack_dir: str = PACK_DIR) -> bool:
        import nodes
        pack_dir = os.path.abspath(pack_dir)
        if pack_dir not in self.loaded_packs:
            self.loaded_packs[pack_dir] = asyncio.run(nodes.load_custom_node(pack_dir))
        return self.loaded_packs[pack_dir]

    def node_info(self, kind: str) -> dict | None:
        """A node's definition as ``/object_info`` serves it, or None when it is not installed."""
        import nodes
        cls = nodes.NODE_CLASS_MAPPINGS.get(kind)
        if cls is None:
            return None
        if hasattr(cls, "GET_NODE_INFO_V1"):
            return cls.GET_NODE_INFO_V1()
        inputs = cls.INPUT_TYPES()
        info = {"input": inputs, "input_order": {k: list(v) for k, v in inputs.items()},
                "output": list(getattr(cls, "RETURN_TYPES", ())), "name": kind,
                "display_name": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(kind, kind)}   # as server.py's node_info
        info["output_name"] = list(getattr(cls, "RETURN_NAMES", None) or info["output"])
        return info

    def _engine(self):
        import execution
        if self._executor is None:
            self._server = _Server(lambda e, d: self.on_message and self.on_message(e, d))
            self._executor = execution.PromptExecutor(self._server, cache_type=execution.CacheType.CLASSIC)
        return self._executor

    def validate(self, prompt: dict) -> tuple[bool, dict | None, list, dict]:
        import execution
        return asyncio.run(execution.validate_prompt(str(uuid.uuid4()), prompt, None))

    def run(self, prompt: dict, fresh_cache: bool = False, client_id: str | None = None) -> RunResult:
        """Validate and execute an API-format prompt. Raises ``PromptInvalid`` when any node fails
        validation: unlike the server, which runs whatever outputs are still valid, a headless run is
        all or nothing. With a ``client_id`` the engine also reports per-node progress to ``on_message``."""
        valid, error, outputs, node_errors = self.validate(prompt)
        if not valid or node_errors:
            raise PromptInvalid(error or {"message": "Prompt outputs failed validation", "details": ""}, node_errors)
        executor = self._engine()
        if fresh_cache:
            executor.reset()
        prompt_id = str(uuid.uuid4())
        executor.execute(prompt, prompt_id, {"client_id": client_id} if client_id else {}, outputs)
        values = {}
        for node_id in prompt:
            entry = executor.caches.outputs.get(node_id)
            if entry is not None:
                raw = getattr(entry, "outputs", entry)
                values[node_id] = tuple(v[0] if isinstance(v, list) and len(v) == 1 else v for v in raw)
        return RunResult(executor.success, prompt_id, list(executor.status_messages),
                         dict(executor.history_result.get("outputs", {})), values)


class PromptInvalid(Exception):
    def __init__(self, error: dict | None, node_errors: dict) -> None:
        self.error = error or {}
        self.node_errors = node_errors or {}
        details = []
        for node_id, info in self.node_errors.items():
            for e in info.get("errors", []):
                details.append(f"node {node_id} ({info.get('class_type')}): {e.get('message')}: {e.get('details')}")
        super().__init__(f"{self.error.get('message', 'invalid prompt')}: {self.error.get('details', '')}"
                         + ("\n  " + "\n  ".join(details) if details else ""))
