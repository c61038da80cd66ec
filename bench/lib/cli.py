# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The benchmarks' command line: the options several scripts share, and
the checks of the services they need, made once the options are read."""

from tests.harness import stack


def parser(doc):
    """The script's ArgumentParser: its description is the first paragraph
    of ``doc``, --help shows the defaults."""
    return stack.argument_parser(doc)


def posting_rounds(parser):
    """--workers, --per-worker, --rounds of the posting latency rounds
    (bench/lib/postings.py)."""
    parser.add_argument("--workers", type=int, default=4, help="concurrent posting threads")
    parser.add_argument("--per-worker", type=int, default=40, help="postings per thread")
    parser.add_argument("--rounds", type=int, default=8, help="posting rounds per database")


def question_runs(parser):
    """--runs and --postings of the report questions (bench/lib/questions.py)."""
    parser.add_argument("--runs", type=int, default=10, help="timed runs per question")
    parser.add_argument("--postings", type=int, default=100, help="postings after the refresh")


def parse(parser, keep="keep the benchmark databases", rabbitmq=False):
    """Add --write (and --keep, helped by ``keep``, unless None), read the
    command line, then stop with a clear message when Odoo, PostgreSQL (or,
    with ``rabbitmq``, RabbitMQ) is missing. Returns the options."""
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    if keep:
        parser.add_argument("--keep", action="store_true", help=keep)
    args = parser.parse_args()
    stack.require_odoo()
    stack.require_postgres()
    if rabbitmq:
        stack.require_rabbitmq()
    return args
