"""Every code block of the README runs as written: the quickstart (one
namespace, in order, as a reader would paste it) and any other Python block
here; the C API example's files are the ones tests/test_capi.py builds and
checks, and its usage block runs there against the built modules."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
EXAMPLES = os.path.join(ROOT, "examples", "capi")


def readme():
    if not os.path.exists(README):
        pytest.skip("README.md not beside the tests")
    with open(README, encoding="utf-8") as f:
        return f.read()


def blocks(text):
    """(marker or None, language, code, offset) of every fenced block."""
    out = []
    for m in re.finditer(r"(?:<!-- capi-example: (\S+) -->\n)?```(\w*)\n(.*?)```", text, re.S):
        out.append((m.group(1), m.group(2), m.group(3), m.start()))
    return out


def quickstart_span(text):
    start = text.index("## Quickstart\n")
    end = text.index("\n## ", start + 1)
    return start, end


def test_quickstart_runs():
    text = readme()
    start, end = quickstart_span(text)
    code = [c for _, lang, c, at in blocks(text) if lang == "python" and start < at < end]
    assert len(code) >= 6 and any("CharTransformer" in c for c in code) and any("DataLoader" in c for c in code)
    env = {"__name__": "readme"}
    for i, c in enumerate(code):
        exec(compile(c, f"README.md quickstart block {i + 1}", "exec"), env)
    assert env["model"] is not None  # the blocks built on one another


def test_every_other_python_block_runs_or_is_checked_elsewhere():
    text = readme()
    start, end = quickstart_span(text)
    env = {"__name__": "readme"}
    usage = 0
    for marker, lang, code, at in blocks(text):
        if lang != "python" or start < at < end:
            continue
        if marker is not None:  # an example file: compared below, built by test_capi
            continue
        if "import fnn_example" in code:  # needs the built example modules: test_capi runs it
            usage += 1
            continue
        exec(compile(code, "README.md block", "exec"), env)
    assert usage == 1, "the C API example's usage block (run by tests/test_capi.py) is missing or doubled"


def test_capi_example_blocks_are_the_example_files():
    text = readme()
    shown = {m: code for m, _, code, _ in blocks(text) if m is not None}
    assert set(shown) == {"setup.py", "fnn_example_cy.pyx"}, sorted(shown)
    if not os.path.isdir(EXAMPLES):
        pytest.skip("no source checkout (examples/capi)")
    for name, code in shown.items():
        with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
            assert f.read() == code, f"README's {name} differs from examples/capi/{name}"
    assert os.path.exists(os.path.join(EXAMPLES, "fnn_example.c"))
    for lang in {lang for _, lang, _, _ in blocks(text)}:
        assert lang in ("python", "sh", "cython"), lang  # a new kind of block needs a check here


def test_shell_blocks_are_the_two_commands():
    cmds = [code.strip() for _, lang, code, _ in blocks(readme()) if lang == "sh"]
    assert cmds == ['pip install ".[demo]" && fastnn demo', 'pip install -e ".[test]" && python -m pytest']
