import json

import numpy as np
import pytest

from kexue_dist.cli import main
from kexue_dist.errors import UserError
from kexue_dist.shred import io

from ._pages import cut, text_page, write


def _strips(tmp_path, n=6):
    page = text_page(width=30 * n, height=200)
    pieces, truth = cut(page, 1, n)
    return write(pieces, tmp_path / "p"), truth


def test_detect_strips_grid_twosided():
    blank = np.full((180, 72), 255, np.uint8)
    assert io.detect_layout({f"{i:03d}": blank for i in range(19)} | {}, None).kind in ("strips", "grid")
    tall = np.full((1980, 72), 255, np.uint8)
    lay = io.detect_layout({f"{i:03d}": tall for i in range(19)})
    assert (lay.kind, lay.rows, lay.cols) == ("strips", 1, 19)
    lay = io.detect_layout({f"{i:03d}": blank for i in range(209)})
    assert (lay.kind, lay.rows, lay.cols) == ("grid", 11, 19)
    faces = {f"{i:03d}{f}": blank for i in range(209) for f in "ab"}
    lay = io.detect_layout(faces)
    assert (lay.kind, lay.rows, lay.cols) == ("two-sided", 11, 19)


def test_identical_blank_pieces_are_valid():
    blank = np.full((180, 72), 255, np.uint8)
    lay = io.detect_layout({f"{i:03d}": blank for i in range(20)}, "grid")
    assert lay.rows * lay.cols == 20


@pytest.mark.parametrize("case", ["mixed", "missing_face", "repeated", "nonimage", "empty", "count"])
def test_bad_input_exit_2_and_nothing_created(tmp_path, capsys, case):
    d = tmp_path / "in"
    d.mkdir()
    a = np.full((50, 10), 255, np.uint8)
    from PIL import Image

    if case == "mixed":
        Image.fromarray(a).save(d / "000.png")
        Image.fromarray(np.full((50, 11), 255, np.uint8)).save(d / "001.png")
        msg = "mixed piece sizes"
    elif case == "missing_face":
        for n in ("000a", "000b", "001a", "001b", "002a"):
            Image.fromarray(a).save(d / f"{n}.png")
        msg = "missing face"
    elif case == "repeated":
        Image.fromarray(a).save(d / "000.png")
        Image.fromarray(a).save(d / "000.bmp")
        msg = "repeated piece name"
    elif case == "nonimage":
        Image.fromarray(a).save(d / "000.png")
        (d / "001.png").write_text("not an image")
        msg = "not a readable image"
    elif case == "empty":
        msg = "no .bmp or .png"
    else:
        for i in range(5):
            Image.fromarray(a).save(d / f"{i:03d}.png")
        msg = "do not fill"
    out = tmp_path / "out"
    argv = ["shred", "restore", str(d), "--out", str(out)]
    if case == "count":
        argv += ["--rows", "2"]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert msg in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_pin_is_user_error(tmp_path):
    d, _ = _strips(tmp_path)
    pieces, lay = io.load_dir(str(d))
    from kexue_dist.shred import restore

    with pytest.raises(UserError):
        restore.parse_pins(["nope>000"], lay, pieces)
    with pytest.raises(UserError):
        restore.parse_pins(["000@5,0"], lay, pieces)
