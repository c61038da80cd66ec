# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""odoo.conf files for the tests, benchmarks and scripts: a new one for these
addons and the current services, or a copy of one with its
``[stock_event_bus]`` section set (an exchange of its own, a broker...)."""

import configparser
import tempfile
from pathlib import Path

from . import stack

SECTION = "stock_event_bus"


def write_odoo_conf(path, data_dir, broker_url=None, **options):
    """Write an odoo.conf for these addons and the current services; the
    event bus's ``amqp_url`` is ``broker_url`` (default: ``stack.amqp_url()``);
    ``options`` go to ``[options]``."""
    params = stack.pg_params()
    lines = [
        "[options]",
        f"addons_path = {stack.ROOT}",
        f"data_dir = {data_dir}",
        f"db_host = {params['host']}",
        f"db_port = {params['port']}",
        f"db_user = {params['user']}",
        f"db_password = {params['password'] or 'False'}",
        "list_db = False",
    ]
    lines += [f"{key} = {value}" for key, value in options.items()]
    lines += ["", f"[{SECTION}]", f"amqp_url = {broker_url or stack.amqp_url()}", ""]
    Path(path).write_text("\n".join(lines))
    return Path(path)


def bench_odoo_conf(**options):
    """An odoo.conf (``options`` as in write_odoo_conf) in a new temporary
    directory, for a benchmark; also loaded into this process's Odoo."""
    import odoo  # noqa: PLC0415

    workdir = Path(tempfile.mkdtemp(prefix="sscale_bench_"))
    conf = write_odoo_conf(workdir / "odoo.conf", workdir / "data", **options)
    odoo.tools.config.parse_config(["-c", str(conf)])
    return conf


def copy_conf(source, target, section=SECTION, **values):
    """Copy the odoo.conf ``source`` to ``target`` with ``values`` set in its
    ``[stock_event_bus]`` section (or ``section``), made when missing;
    values are written with ``str()``. Returns ``target`` as a Path.

    >>> import shutil
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "odoo.conf").write_text("[options]\\ndb_host = x\\n")
    >>> copied = copy_conf(folder / "odoo.conf", folder / "bus.conf",
    ...                    exchange="e", command_queues=4)
    >>> print(copied.read_text().strip())
    [options]
    db_host = x
    <BLANKLINE>
    [stock_event_bus]
    exchange = e
    command_queues = 4
    >>> print(copy_conf(copied, copied, command_queues=2).read_text().split()[-1])
    2
    >>> shutil.rmtree(folder)
    """
    parser = configparser.RawConfigParser()  # as Odoo reads it
    parser.read(source)
    if not parser.has_section(section):
        parser.add_section(section)
    for option, value in values.items():
        parser.set(section, option, str(value))
    target = Path(target)
    with target.open("w") as handle:
        parser.write(handle)
    return target
