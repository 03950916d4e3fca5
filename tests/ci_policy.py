"""Pytest plugin: under ``CI=true`` a skipped test is a failure, unless it is marked ``gpu``.

A test that cannot run in CI is a test that does not exist, so CI refuses every skip:
``pytest.skip``, ``skipif`` and ``importorskip`` in a test or fixture, and a module that
skips while it is collected. The one exception is hardware the CI machine may lack: a
test marked ``gpu`` may skip. Expected failures (``xfail``) are not skips and are left
alone. Without ``CI`` (or with ``CI`` set to anything but ``1``/``true``/``yes``)
skips are reported as usual.

``tests/conftest.py`` re-exports the two hooks; ``tests/test_ci_policy.py`` loads this
module with ``-p ci_policy`` into a separate pytest run.
"""

from __future__ import annotations

import os

import pytest

CI_VALUES = {"1", "true", "yes"}


def in_ci() -> bool:
    """Whether the ``CI`` environment variable asks for the CI policy."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def _skip_reason(longrepr: object) -> str:
    # a skip's longrepr is (path, line, "Skipped: reason")
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _message(reason: str) -> str:
    return (
        f"skipped under CI=true: {reason}\n"
        "CI runs every test: install what the test needs (or start its server), "
        "or mark it `gpu` if it needs hardware this machine lacks."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Turn a skipped setup, call or teardown into a failure under CI (``gpu`` exempt)."""
    report = yield
    if (
        in_ci()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("gpu") is None
    ):
        report.outcome = "failed"
        report.longrepr = _message(_skip_reason(report.longrepr))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """Turn a module that skips while it is collected into a collection error under CI."""
    report = yield
    if in_ci() and report.outcome == "skipped":
        report.outcome = "failed"
        report.longrepr = _message(_skip_reason(report.longrepr))
    return report
