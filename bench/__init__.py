# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks: one script per performance goal (``python3 -m
bench.<name>`` from the repository's root), over the library in
``bench/lib`` and the test harness (``tests.harness``)."""
