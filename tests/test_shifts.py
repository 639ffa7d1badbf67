import pytest
import torch

from convstudies.shifts import place_on_canvas, random_shifts, random_translate, translate


def reference_shift(img, dy, dx):
    """Shift one (C, H, W) image by (dy, dx) with zero fill, pixel by pixel."""
    out = torch.zeros_like(img)
    _, h, w = img.shape
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if 0 <= si < h and 0 <= sj < w:
                out[:, i, j] = img[:, si, sj]
    return out


def test_translate_matches_a_pixelwise_reference_per_sample():
    torch.manual_seed(0)
    x = torch.rand(5, 2, 7, 9)
    dy, dx = torch.tensor([0, 1, -2, 3, -7]), torch.tensor([0, -1, 4, 0, 2])
    out = translate(x, dy, dx)
    for i in range(5):
        torch.testing.assert_close(out[i], reference_shift(x[i], int(dy[i]), int(dx[i])))


def test_translate_by_scalar_and_back_is_identity_inside_the_canvas():
    x = place_on_canvas(torch.rand(3, 1, 8, 8), 16)
    torch.testing.assert_close(translate(translate(x, 3, -4), -3, 4), x)


def test_translate_sequences():
    s = torch.arange(6.0).reshape(1, 1, 6)
    assert translate(s, 2).flatten().tolist() == [0, 0, 0, 1, 2, 3]
    assert translate(s, -1).flatten().tolist() == [1, 2, 3, 4, 5, 0]


def test_place_on_canvas_centres_and_rejects_small_canvas():
    x = torch.ones(1, 1, 2, 2)
    c = place_on_canvas(x, 5)
    assert c.shape == (1, 1, 5, 5) and c.sum() == 4 and c[0, 0, 1:3, 1:3].sum() == 4
    with pytest.raises(ValueError, match="canvas 1 is smaller"):
        place_on_canvas(x, 1)


def test_random_shifts_are_seeded_and_bounded():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = random_shifts(1000, 4, g1), random_shifts(1000, 4, g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].min() == -4 and a[0].max() == 4
    x = torch.rand(4, 1, 6, 6)
    assert random_translate(x, 0) is x


def test_random_flip_mirrors_about_half():
    from convstudies.shifts import random_flip

    x = torch.arange(4.0).repeat(1000, 1, 1, 1)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 3).float().mean()
    assert 0.4 < flipped < 0.6 and set(out[:, 0, 0, 0].tolist()) == {0.0, 3.0}
