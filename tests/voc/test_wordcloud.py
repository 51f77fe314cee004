import struct

import pytest

from carsight.assets import korean_font_path
from carsight.errors import InputError
from carsight.voc.wordcloud import render_wordcloud


def test_png_with_korean_font(tmp_path, monkeypatch):
    import wordcloud

    used = {}
    original = wordcloud.WordCloud.__init__

    def spy(self, *args, **kwargs):
        used["font_path"] = kwargs.get("font_path")
        original(self, *args, **kwargs)

    monkeypatch.setattr(wordcloud.WordCloud, "__init__", spy)
    path = render_wordcloud(
        {"경고등": 30, "출고지연": 20, "블루핸즈": 10, "OTA": 5}, tmp_path / "w.png", width=640, height=360
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (640, 360)
    assert used["font_path"] == str(korean_font_path())
    assert korean_font_path().is_file() and "carsight/assets/fonts" in korean_font_path().as_posix()


def test_empty_selection_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        render_wordcloud({}, tmp_path / "w.png")
