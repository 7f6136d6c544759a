"""Vector marks of the viewer: outlines as paths in the image's pixels, labels that never collide or leave the
picture."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from medlib.display.marks import outline_paths, place_labels

BOX = (22.0, 14.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 299), st.floats(0, 199), st.floats(2, 40)), min_size=1, max_size=12))
def test_labels_stay_inside_the_picture_and_never_overlap(marks):
    centres, radii = [(x, y) for x, y, _ in marks], [r for _, _, r in marks]
    corners = place_labels(centres, radii, (200, 300), BOX)
    assert len(corners) == len(marks)
    for left, top in corners:
        assert 0 <= left <= 300 - BOX[0] and 0 <= top <= 200 - BOX[1]
    for k, (a, b) in enumerate(corners):
        for c, d in corners[k + 1:]:
            assert abs(a - c) >= BOX[0] - 1e-6 or abs(b - d) >= BOX[1] - 1e-6


def test_a_label_sits_beside_its_own_mark_where_there_is_room():
    (left, top), = place_labels([(150.0, 100.0)], [10.0], (200, 300), BOX)
    assert np.hypot(left - 150, top + BOX[1] - 100) < 20  # just off the circle, upper right


def test_outlines_are_in_the_pixels_of_the_image_the_mask_covers():
    mask = np.zeros((50, 50), np.uint8)
    mask[10:20, 30:40] = 1
    path, = outline_paths(mask, (500, 500))  # the mask of a 500-px image
    assert np.allclose(path[0], path[-1])  # closed
    assert 300 <= path[:, 0].min() <= 305 and 390 <= path[:, 0].max() <= 400
    assert 100 <= path[:, 1].min() <= 105 and 190 <= path[:, 1].max() <= 200
