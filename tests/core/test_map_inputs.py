"""Map pictures (ComfyUI IMAGEs) as the map models read them: scaling, ADE20K labels, one-hot, sizes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gligen_pack.gligen_core.ade20k import PALETTE, LabelMapError, label_classes
from gligen_pack.gligen_core.downsamplers import DOWNSAMPLERS, MapDownsampler
from gligen_pack.gligen_core.maps import GroundingMap, MapError

# ADE20K colours of a few classes, from the standard table (class index: RGB)
WALL, BUILDING, SKY, FLOOR = (1, (120, 120, 120)), (2, (180, 120, 120)), (3, (6, 230, 230)), (4, (80, 50, 50))


def test_an_rgb_map_is_scaled_to_minus_one_one_as_the_official_prepare_and_grey_is_replicated():
    img = torch.tensor([[[[0.0, 0.5, 1.0]]]])                      # [1, 1, 1, 3]
    g = GroundingMap.from_image("depth", img, "map")
    torch.testing.assert_close(g.data[0, :, 0, 0], torch.tensor([-1.0, 0.0, 1.0]))
    grey = GroundingMap.from_image("hed", torch.full((1, 2, 2, 1), 0.25), "map")
    assert grey.data.shape == (1, 3, 2, 2) and torch.all(grey.data == -0.5)
    rgba = GroundingMap.from_image("normal", torch.rand(2, 4, 6, 4), "map")
    assert rgba.data.shape == (2, 3, 4, 6) and rgba.size == (4, 6) and rgba.batch == 2


def test_palette_colours_read_as_their_class_and_black_as_unlabelled():
    img = torch.zeros(1, 2, 3, 3)
    for (cls, rgb), (y, x) in zip((WALL, BUILDING, SKY, FLOOR), ((0, 0), (0, 1), (0, 2), (1, 0))):
        img[0, y, x] = torch.tensor(rgb) / 255
    img[0, 1, 2] = (torch.tensor(SKY[1]) + torch.tensor([5, -4, 3])) / 255     # a slightly blurred edge pixel
    classes = label_classes(img, "colours", "labels")
    assert classes.tolist() == [[[1, 2, 3], [4, 0, 3]]]
    assert len(PALETTE) == 150


def test_a_photo_is_not_a_segmentation():
    with pytest.raises(LabelMapError, match="no ADE20K palette colour"):
        label_classes(torch.rand(1, 16, 16, 3, generator=torch.Generator().manual_seed(0)), "colours", "labels")


def test_index_label_images_read_their_8_bit_values():
    idx = torch.tensor([[[0, 7, 150], [151, 1, 2]]])
    img = (idx.float() / 255)[..., None].expand(1, 2, 3, 3)
    assert label_classes(img, "indices", "labels").tolist() == idx.tolist()
    with pytest.raises(LabelMapError, match="class index 200 is out of range"):
        label_classes(torch.full((1, 2, 2, 3), 200 / 255), "indices", "labels")
    with pytest.raises(LabelMapError, match="has colours"):
        label_classes(torch.tensor(SKY[1]).float().div(255).expand(1, 2, 2, 3), "indices", "labels")
    with pytest.raises(LabelMapError, match="'rgb'"):
        label_classes(img, "rgb", "labels")


def test_the_semantic_one_hot_equals_the_official_one_hot_then_nearest_resize():
    g = torch.Generator().manual_seed(1)
    classes = torch.randint(0, 152, (1, 512, 512), generator=g)
    img = (classes.float() / 255)[..., None].expand(1, 512, 512, 3)
    m = GroundingMap.from_image("semantic", img, "labels", labels="indices")
    official = torch.zeros(152, 512, 512).scatter_(0, classes, 1.0)[None]       # prepare_batch_sem
    assert torch.equal(m.tokenizer_input(), F.interpolate(official, 256, mode="nearest"))
    assert torch.equal(m.downsampler_input((64, 64)), F.interpolate(official, (256, 256), mode="nearest"))


def test_a_map_of_any_size_gives_extra_channels_of_the_latent_size():
    img = torch.rand(1, 600, 904, 3)
    for modality in ("hed", "canny", "normal"):
        m = GroundingMap.from_image(modality, img, "map")
        down = MapDownsampler(DOWNSAMPLERS[modality])
        with torch.no_grad():
            out = down(m.downsampler_input((75, 113)), (75, 113))
        assert out.shape == (1, DOWNSAMPLERS[modality].out_channels, 75, 113)


def test_a_map_at_512_gives_the_official_extra_channels_for_a_64_latent():
    img = torch.rand(1, 512, 512, 3, generator=torch.Generator().manual_seed(2))
    m = GroundingMap.from_image("hed", img, "map")
    out = MapDownsampler(DOWNSAMPLERS["hed"])(m.downsampler_input((64, 64)), (64, 64))
    x = (img.permute(0, 3, 1, 2) - 0.5) / 0.5
    assert torch.equal(out, F.interpolate(x[:, 0].unsqueeze(1), (64, 64), mode="bicubic"))


@pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 8, 8, 2)])
def test_a_tensor_that_is_no_image_is_an_error(bad):
    with pytest.raises(MapError, match=r"map: expected an IMAGE"):
        GroundingMap.from_image("depth", bad, "map")


def test_a_map_seen_from_a_crop_is_that_part_of_the_map():
    img = torch.rand(1, 40, 80, 3)
    m = GroundingMap.from_image("depth", img, "map")
    assert m.within(0.0, 0.0, 1.0, 1.0) is m
    part = m.within(0.5, 0.25, 1.0, 1.0)
    assert torch.equal(part.data, m.data[..., 10:40, 40:80])
    sem = GroundingMap.from_image("semantic", torch.zeros(1, 40, 80, 3), "labels").within(0.0, 0.0, 0.25, 0.5)
    assert sem.data.shape == (1, 20, 20)
