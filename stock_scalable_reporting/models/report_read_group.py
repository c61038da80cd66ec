# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, models
from odoo.osv import expression
from odoo.tools import SQL

from ..tools import gcpause, groups


class StockReportReadGroupMixin(models.AbstractModel):
    """read_group for report models whose pivots return tens of thousands of
    groups: each distinct group value is formatted once (Odoo's own code,
    called on one row per value) and the rows are assembled from the
    pieces, with the cyclic garbage collector paused. The result is the same
    as Odoo's, list for list."""

    _name = "stock.report.read.group.mixin"
    _description = "Stock Report Fast Grouping"

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        # Tens of thousands of groups are as many dicts, lists and tuples:
        # without the cyclic collector walking the process's heap meanwhile
        # (tools/gcpause.py).
        with gcpause.paused():
            return super().read_group(
                domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy
            )

    def _read_group_postprocess_groupby(self, groupby_spec, raw_values):
        # One recordset per distinct id instead of one per row.
        # (Raw values of one column share a type: no False/0 confusion.)
        try:
            distinct = list(dict.fromkeys(raw_values))
        except TypeError:
            return super()._read_group_postprocess_groupby(groupby_spec, raw_values)
        if len(distinct) == len(raw_values):
            return super()._read_group_postprocess_groupby(groupby_spec, raw_values)
        converted = dict(
            zip(
                distinct,
                super()._read_group_postprocess_groupby(groupby_spec, distinct),
                strict=False,
            )
        )
        return map(converted.__getitem__, raw_values)

    def _read_group_format_result(self, rows_dict, lazy_groupby):
        fields_ = [self._fields[spec.split(":")[0].split(".")[0]] for spec in lazy_groupby]
        domain = rows_dict[0]["__domain"] if rows_dict else None
        if (
            len(rows_dict) < 2
            or any(field.type in ("properties", "many2many") for field in fields_)
            or any(row["__domain"] is not domain for row in rows_dict)
        ):
            return super()._read_group_format_result(rows_dict, lazy_groupby)
        try:
            keys = [[groups.value_key(row[spec]) for row in rows_dict] for spec in lazy_groupby]
        except TypeError:
            return super()._read_group_format_result(rows_dict, lazy_groupby)
        pieces = []
        for spec, spec_keys in zip(lazy_groupby, keys, strict=False):
            # Odoo's formatting, once per distinct value.
            distinct = {}
            for key, row in zip(spec_keys, rows_dict, strict=False):
                distinct.setdefault(key, row[spec])
            probes = [{spec: value, "__domain": []} for value in distinct.values()]
            super()._read_group_format_result(probes, [spec])
            pieces.append(
                {
                    key: (probe[spec], probe.get("__range", {}).get(spec, ()), probe["__domain"])
                    for key, probe in zip(distinct, probes, strict=False)
                }
            )
        base = expression.normalize_domain(domain)
        for index, row in enumerate(rows_dict):
            domains = [base]
            for spec, spec_keys, spec_pieces in zip(lazy_groupby, keys, pieces, strict=False):
                label, bounds, spec_domain = spec_pieces[spec_keys[index]]
                row[spec] = label
                if bounds != ():
                    row.setdefault("__range", {})[spec] = (
                        dict(bounds) if isinstance(bounds, dict) else bounds
                    )
                domains.append(spec_domain)
            row["__domain"] = groups.and_normalized(domains)

    @contextlib.contextmanager
    def _sscale_settings(self, **settings):
        """Planner settings for the queries run inside, put back after (the
        transaction goes on with its own values)."""
        cr = self.env.cr
        names = sorted(settings)
        cr.execute(
            SQL(
                "SELECT %s",
                SQL(", ").join(
                    SQL("current_setting(%s), set_config(%s, %s, true)", n, n, str(settings[n]))
                    for n in names
                ),
            )
        )
        row = cr.fetchone()
        previous = dict(zip(names, row[::2], strict=False))
        try:
            yield
        finally:
            # In a failed transaction the settings go with the rollback.
            if cr._cnx.get_transaction_status() != TRANSACTION_STATUS_INERROR:
                cr.execute(
                    SQL(
                        "SELECT %s",
                        SQL(", ").join(
                            SQL("set_config(%s, %s, true)", n, previous[n]) for n in names
                        ),
                    )
                )
