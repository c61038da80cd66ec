# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The harness's own spec: every doctest of tests/harness runs here, one
test per docstring that has examples."""

import doctest
import importlib
import io
import pkgutil

import pytest

from tests import harness


def _doctests():
    finder = doctest.DocTestFinder()
    found = []
    for info in pkgutil.iter_modules(harness.__path__):
        module = importlib.import_module(f"{harness.__name__}.{info.name}")
        found += [test for test in finder.find(module) if test.examples]
    return sorted(found, key=lambda test: test.name)


DOCTESTS = _doctests()


@pytest.mark.static
def test_the_harness_has_doctests():
    """The modules that carry their spec as doctests are found."""
    modules = {test.name.rsplit(".", 2)[-2] for test in DOCTESTS}
    assert {"amqp", "odoo_conf", "processes"} <= modules, modules


@pytest.mark.static
@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_doctest(test):
    """The examples of one docstring of the harness give what they show."""
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=out.write)
    assert result.failed == 0, out.getvalue()
