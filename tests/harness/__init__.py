# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""One harness for the tests, the benchmarks and the scripts.

Import the module you need (``from tests.harness import stack, amqp``);
nothing is imported here, so that the scripts that need no Odoo load none.

- ``stack``: the services (PostgreSQL, RabbitMQ settings, checks with clear
  errors), Odoo's command line, database copies, JUnit outcomes.
- ``processes``: ``start()`` a subprocess with its log file, ``stop()`` it
  (terminate, wait, kill), ``free_port()``,
  ``wait_until()`` / ``wait_for()`` / ``wait_http()``.
- ``odoo_conf``: write an odoo.conf, or copy one with its ``[stock_event_bus]``
  section set.
- ``jsonrpc``: a web-client JSON-RPC session (``JsonRpc``, ``RpcError``).
- ``amqp``: open a connection or channel to RabbitMQ, publish a command or
  an event with its properties, the demo queue.
- ``odoo_server`` (an ``odoo-bin`` serving one database), ``odoo_db`` (real
  transactions on a committed database), ``standby`` (a PostgreSQL hot
  standby), ``rabbit_cluster`` (a RabbitMQ cluster on loopback), ``tcp_proxy``
  (a proxy a test can cut), ``stock_flows`` (receipts, deliveries, counts
  through the ORM); ``event_bus`` and ``command_bus``: a test's own event or
  command exchange with its dispatcher or consumer processes.

Entry points: pytest imports ``tests.harness`` from the repository root (its
rootdir); each script of ``scripts/`` puts the root first on ``sys.path``;
``bench`` runs as ``python3 -m bench.<name>`` from the root.

What was ``scripts/stacklib.py`` is ``stack``, except: ``amqp_connection()``
is ``amqp.connect(heartbeat=0)``; ``declare_demo_queue`` and ``DEMO_QUEUE``
are in ``amqp``; ``write_odoo_conf`` and ``bench_odoo_conf`` in ``odoo_conf``.
"""
