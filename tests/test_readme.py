"""README's quickstart runs as written (it says so)."""
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_quickstart_blocks_run():
    if not os.path.exists(README):
        pytest.skip("README.md not beside the tests")
    text = open(README, encoding="utf-8").read()
    quick = text[text.index("## Quickstart"):text.index("## The API in brief")]
    code = "\n".join(re.findall(r"```python\n(.*?)```", quick, flags=re.S))
    assert "CharTransformer" in code and "DataLoader" in code
    exec(compile(code, "README.md quickstart", "exec"), {"__name__": "readme"})
