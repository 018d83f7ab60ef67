"""The runner's UI->API conversion against the prompts the real frontend queued for the corpus
(tests/cases/runner_corpus, captured in Chromium by tests/browser/test_runner_corpus.py)."""
from __future__ import annotations

from datetime import datetime

import pytest

from gligen_pack.runner.workflow import WorkflowError, to_api
from helpers.runner_corpus import CASES, FIXED_TIME_MS, case, load

NOW = datetime.fromtimestamp(FIXED_TIME_MS / 1000)   # local time, as the browser's Date gave it


@pytest.mark.parametrize("name", [c.name for c in CASES if not c.refused])
def test_the_runner_converts_as_the_frontend_does(host, name):
    workflow, expected = load(name)
    assert to_api(workflow, host.node_info, now=NOW) == expected


@pytest.mark.parametrize("name", [c.name for c in CASES if c.refused])
def test_what_the_runner_cannot_reproduce_is_refused_naming_node_and_fix(host, name):
    workflow, _ = load(name)
    with pytest.raises(WorkflowError) as e:
        to_api(workflow, host.node_info, now=NOW)
    message = str(e.value)
    assert message.startswith(case(name).refused), message
    assert "Write the option you want" in message
