#!/usr/bin/env bash
# From a fresh clone to a grounded generation in one command:
#   finds ComfyUI ($COMFYUI_PATH, /opt/ComfyUI, the ComfyUI this pack sits in, or clones one into .comfyui),
#   installs what it needs into .venv, and runs example_workflows/gligen_text_to_image.json headless.
# Without models it uses tiny random demo models (the image is noise, the box preview is real);
# pass --real to use the checkpoint and GLIGEN file named in the workflow from ComfyUI's models folders.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD

comfy=${COMFYUI_PATH:-}
if [ -z "$comfy" ] && [ -f /opt/ComfyUI/main.py ]; then comfy=/opt/ComfyUI; fi
if [ -z "$comfy" ] && [ "$(basename "$(dirname "$here")")" = custom_nodes ] && [ -f ../../main.py ]; then
  comfy=$(cd ../.. && pwd)
fi
if [ -z "$comfy" ]; then
  comfy=$here/.comfyui
  if [ ! -f "$comfy/main.py" ]; then
    echo "No ComfyUI found; cloning it into $comfy ..."
    git clone --depth 1 https://github.com/comfyanonymous/ComfyUI "$comfy" || {
      echo "Could not clone ComfyUI. Install it yourself and set COMFYUI_PATH=/path/to/ComfyUI." >&2; exit 3; }
  fi
fi
echo "ComfyUI: $comfy"

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
# shellcheck disable=SC1091
. .venv/bin/activate
echo "Installing requirements into .venv (first run only takes a while) ..."
grep -v -E '^\s*(torch|torchvision|torchaudio)\s*$' "$comfy/requirements.txt" > .venv/comfyui-requirements.txt
python -m pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1 \
  -r .venv/comfyui-requirements.txt requests -r requirements.txt

mode=--demo
if [ "${1:-}" = "--real" ]; then mode=""; shift; fi
python "$here" run example_workflows/gligen_text_to_image.json $mode --comfyui "$comfy" --output "$here/demo_output" "$@"
