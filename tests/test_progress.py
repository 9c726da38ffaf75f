"""spkeras.progress: bars on stderr, plain lines without ANSI codes when the stream is not a terminal."""

import io

from spkeras.progress import ProgressBar, progress_bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_not_a_terminal_gives_a_few_plain_lines():
    stream = io.StringIO()
    bar = ProgressBar(1000, unit_name="image", stream=stream)
    for done in range(0, 1001, 50):
        bar.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("1000/1000 images 100% done in")
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


def test_a_terminal_gets_one_line_redrawn_in_place():
    stream = _Terminal()
    bar = ProgressBar(10, unit_name="image", stream=stream, interval=0)
    for done in range(11):
        bar.update(done)
    text = stream.getvalue()
    assert text.count("\r") == 11 and text.endswith("\n") and text.count("\n") == 1
    assert "\x1b" not in text and "[========================]" in text


def test_disabled_bar_writes_nothing(capsys):
    bar = progress_bar(10, enabled=False)
    bar.update(5)
    bar.update(10)
    assert capsys.readouterr() == ("", "")


def test_default_stream_is_stderr(capsys):
    bar = progress_bar(2, unit_name="image")
    bar.update(2)
    captured = capsys.readouterr()
    assert captured.out == "" and "2/2 images 100%" in captured.err


def test_updates_after_the_end_are_ignored():
    stream = io.StringIO()
    bar = ProgressBar(4, stream=stream)
    bar.update(4)
    bar.update(4)
    assert stream.getvalue().count("\n") == 1


def test_unknown_total_prints_its_count_on_close():
    stream = io.StringIO()
    with ProgressBar(0, unit_name="image", stream=stream) as bar:
        bar.update(100)
        bar.update(250)
        assert stream.getvalue() == ""
    assert stream.getvalue().startswith("250 images done in") and stream.getvalue().count("\n") == 1


def test_close_ends_a_terminal_line_once():
    stream = _Terminal()
    bar = ProgressBar(0, unit_name="image", stream=stream, interval=0)
    bar.update(5)
    bar.close()
    bar.close()
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1


def test_close_after_the_end_changes_nothing():
    stream = io.StringIO()
    bar = ProgressBar(2, stream=stream)
    bar.update(2)
    text = stream.getvalue()
    bar.close()
    assert stream.getvalue() == text


def test_label_names_the_phase_on_every_line():
    stream = io.StringIO()
    bar = ProgressBar(4, unit_name="image", stream=stream, label="statistics")
    for done in range(5):
        bar.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and all(line.startswith("statistics: ") for line in lines)
    assert lines[-1].startswith("statistics: 4/4 images 100% done in")
    terminal = _Terminal()
    bar = ProgressBar(0, unit_name="layer", stream=terminal, interval=0, label="calibration bias")
    bar.update(2)
    bar.close()
    assert terminal.getvalue().startswith("\rcalibration bias: 2 layers")
