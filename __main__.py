"""``python -m gligen_grounding run WORKFLOW.json`` (or ``python path/to/this/folder run ...``); also
``convert``, ``train CONFIG`` and ``import-coco``."""
import importlib.util
import os
import sys

if __package__:
    from .runner.cli import main
else:  # run as a folder or a file: import the folder as the package first
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("gligen_grounding", os.path.join(here, "__init__.py"),
                                                  submodule_search_locations=[here])
    package = importlib.util.module_from_spec(spec)
    sys.modules["gligen_grounding"] = package
    spec.loader.exec_module(package)
    from gligen_grounding.runner.cli import main

if __name__ == "__main__":
    sys.exit(main())
