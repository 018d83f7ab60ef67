"""The runner's UI->API conversion against the prompts the real frontend queued for the corpus
(tests/cases/runner_corpus, captured in Chromium by tests/browser/test_runner_corpus.py)."""
from __future__ import annotations

from datetime import datetime

import pytest

from gligen_pack.runner.workflow import WorkflowError, to_api
from helpers.runner_corpus import CASES, FIXED_TIME_MS, case, load

NOW = datetime.fromtimestamp(FIXED_TIME_MS / 1000)   # local time, as the browser's Date gave it
REFUSED = {"dynamic_prompt_choice": "random choice '{red|blue|green}'"}


@pytest.mark.parametrize("name", [c.name for c in CASES if c.name not in REFUSED])
def test_the_runner_converts_as_the_frontend_does(host, name):
    workflow, expected = load(name)
    assert to_api(workflow, host.node_info, now=NOW) == expected


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_frontend_does_at_random_is_refused(host, name):
    workflow, expected = load(name)
    node, widget = case(name).random_widget
    with pytest.raises(WorkflowError, match=f"node #{node} .*'{widget}' holds the " + REFUSED[name].replace("|", r"\|")
                       .replace("{", r"\{").replace("}", r"\}")) as e:
        to_api(workflow, host.node_info, now=NOW)
    assert "Math.random" in str(e.value) and "Write the option you want" in str(e.value)
