"""A grounding seen from a crop of the canvas (area conditioning)."""
from __future__ import annotations

import pytest
import torch

from gligen_pack.gligen_core import Grounding


def grounding():
    boxes = torch.tensor([[0.6, 0.1, 0.9, 0.5],     # inside the right half
                          [0.25, 0.0, 0.75, 0.5],   # across its left edge
                          [0.0, 0.5, 0.4, 1.0]])    # in the left half only
    return Grounding(("in", "across", "out"), boxes, torch.arange(3.0).unsqueeze(1).expand(3, 4).clone(), dropped=2)


def test_boxes_are_mapped_into_the_crop_cut_at_its_edges_and_dropped_outside():
    g = grounding().within(0.5, 0.0, 1.0, 1.0)
    assert g.phrases == ("in", "across")
    torch.testing.assert_close(g.boxes, torch.tensor([[0.2, 0.1, 0.8, 0.5], [0.0, 0.0, 0.5, 0.5]]))
    torch.testing.assert_close(g.features, torch.tensor([[0.0] * 4, [1.0] * 4]))   # each box keeps its phrase
    assert g.dropped == 2


def test_a_box_touching_the_crop_only_at_its_edge_is_outside():
    g = Grounding(("edge",), torch.tensor([[0.0, 0.0, 0.5, 1.0]]), torch.ones(1, 4)).within(0.5, 0.0, 1.0, 1.0)
    assert len(g) == 0 and g.boxes.shape == (0, 4) and g.features.shape == (0, 4)


def test_the_whole_canvas_is_the_grounding_itself():
    g = grounding()
    assert g.within(0.0, 0.0, 1.0, 1.0) is g


@pytest.mark.parametrize("crop", [(0.5, 0.0, 0.5, 1.0), (-0.1, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 1.2)])
def test_a_crop_outside_the_canvas_is_refused(crop):
    with pytest.raises(ValueError):
        grounding().within(*crop)
