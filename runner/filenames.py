"""File names made from node ids. Ids of nodes inside subgraphs are paths such as ``12:3``, and ``:``
(like ``<>"/\\|?*``) is not allowed in a file name on Windows; every character outside letters, digits,
``.``, ``_`` and ``-`` becomes ``-``, so a name is valid on every OS."""
from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")


def node_id_for_filename(node_id: str) -> str:
    return _UNSAFE.sub("-", str(node_id))
