"""A real ComfyUI server in a subprocess, with this pack in a scratch ``custom_nodes``, spoken to over HTTP."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    def __init__(self, comfy_path: str, base_dir: str, extra_args: tuple[str, ...] = ()) -> None:
        self.comfy_path = comfy_path
        self.base_dir = base_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(base_dir, "server.log")

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        cmd = [sys.executable, os.path.join(self.comfy_path, "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", self.base_dir, "--disable-auto-launch",
               *self.extra_args]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.comfy_path, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.alive():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "".join(open(self.log_path).readlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()

    def request(self, path: str, data: dict | None = None, timeout: float = 30.0) -> tuple[int, object]:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, raw
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def alive(self) -> bool:
        try:
            return self.request("/system_stats", timeout=2)[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def queue(self, prompt: dict) -> tuple[int, dict]:
        return self.request("/prompt", {"prompt": prompt, "client_id": str(uuid.uuid4())})

    def wait(self, prompt_id: str, timeout: float = 300.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, history = self.request(f"/history/{prompt_id}")
            if status == 200 and prompt_id in history:
                entry = history[prompt_id]
                if entry.get("status", {}).get("completed") is not None or entry.get("status", {}).get("status_str"):
                    return entry
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI died:\n{self.log_tail()}")
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")

    def run(self, prompt: dict) -> dict:
        """Queue a prompt that must validate; return its history entry (success or execution error)."""
        status, body = self.queue(prompt)
        if status != 200:
            raise AssertionError(f"prompt rejected ({status}): {json.dumps(body)[:2000]}")
        return self.wait(body["prompt_id"])


def execution_error(entry: dict) -> dict | None:
    for event, data in entry.get("status", {}).get("messages", []):
        if event == "execution_error":
            return data
    return None


def watch(server: ComfyServer, prompt: dict, timeout: float = 300.0) -> tuple[int, dict, list[tuple[str, object]]]:
    """Queue ``prompt`` with a websocket open, as ComfyUI's frontend does, and collect what the frontend
    would receive until the prompt is done: ``(status, body, events)``, events as ``(type, data)`` for
    JSON messages and ``("progress_text", (node_id, text))`` for the text a node shows on itself."""
    import asyncio
    import struct

    import aiohttp

    async def go():
        client_id = str(uuid.uuid4())
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ws?clientId={client_id}") as ws:
                async with session.post(server.url + "/prompt", data=json.dumps({"prompt": prompt, "client_id": client_id}),
                                        headers={"Content-Type": "application/json"}) as r:
                    status, body = r.status, await r.json()
                events: list[tuple[str, object]] = []
                if status != 200:
                    return status, body, events
                deadline = time.time() + timeout
                while True:
                    msg = await asyncio.wait_for(ws.receive(), max(1.0, deadline - time.time()))
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        (kind,) = struct.unpack(">I", msg.data[:4])
                        if kind == 3:                      # BinaryEventTypes.TEXT: node id length, node id, text
                            (n,) = struct.unpack(">I", msg.data[4:8])
                            events.append(("progress_text", (msg.data[8:8 + n].decode(), msg.data[8 + n:].decode())))
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        m = json.loads(msg.data)
                        events.append((m["type"], m["data"]))
                        data = m["data"]
                        if (m["type"] == "executing" and isinstance(data, dict) and data.get("node") is None
                                and data.get("prompt_id") == body["prompt_id"]):
                            return status, body, events
                    else:
                        raise RuntimeError(f"websocket closed: {msg}")

    return asyncio.run(go())
