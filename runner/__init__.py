"""Run ComfyUI workflows without its web server (tests, the headless runner)."""
