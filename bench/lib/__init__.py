# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What more than one benchmark uses: databases and their data (data),
ORM posting workloads (postings), AMQP and HTTP clients (amqp_clients,
http_clients), monitors of CPU and memory (monitor), log counts (logs), the
load test's workload, steps and invariants (workload, steps, invariants),
ORM questions timed (questions), the shared options (cli) and the output
(report, command_report, loadtest_report)."""
