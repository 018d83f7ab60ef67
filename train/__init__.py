"""Train a GLIGEN adapter on a frozen ComfyUI checkpoint (``python -m gligen_grounding train CONFIG``).

GLIGEN's continual learning (spec section 6): the base model (UNet, CLIP, VAE) is loaded through
ComfyUI's own loaders and stays frozen; only the fusers and the grounding tokenizer train. The
modules, one concept each:

- ``config``: the training settings (the paper's recipe as defaults), read from JSON or TOML;
- ``data``: the JSONL manifest reader (bad rows skipped with counts and reasons); ``coco`` imports
  COCO-style detection annotations into such a manifest. Both are plain Python (no ComfyUI);
- ``sampling``: per-sample randomness derived from (seed, step, sample), so any split of a global
  batch over processes, and any resume, draws the same numbers;
- ``base``: the frozen base through ComfyUI (checkpoint, CLIP features cached per phrase, VAE);
- ``objective``: the trainable module (the adapter driving the frozen UNet through the pack's own
  patch) and the loss;
- ``dist``: Hugging Face Accelerate when installed, else a single-process stand-in;
- ``checkpoints``: exact-resume states and the final GLIGEN file;
- ``trainer``: the loop; ``cli``: the command.
"""
