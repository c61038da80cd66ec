# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, models
from odoo.models import parse_read_group_spec
from odoo.osv import expression
from odoo.tools import SQL

from . import group_keys


class StockReportReadGroupMixin(models.AbstractModel):
    """read_group for report models whose pivots return tens of thousands of
    groups: each distinct group value is formatted once (Odoo's own code,
    called on one row per value) and the rows are assembled from the
    pieces; sums of floats come as double precision (the same values). The
    result is the same as Odoo's, list for list. Nothing here changes state
    shared by the process's threads (an earlier version paused Python's
    garbage collector, which is process-wide: removed)."""

    _name = "stock.report.read.group.mixin"
    _description = "Stock Report Fast Grouping"

    def _read_group_select(self, aggregate_spec, query):
        sql = super()._read_group_select(aggregate_spec, query)
        fname, _property, func = parse_read_group_spec(aggregate_spec)
        field = self._fields.get(fname)
        if func == "sum" and field and field.type == "float":
            # Summed exactly in numeric; sent as the double Python would
            # make of it (both round to the nearest), which psycopg2
            # converts in C instead of parsing a decimal string per value.
            return SQL("(%s)::float8", sql)
        return sql

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
        base = expression.normalize_domain(domain)
        if base == expression.FALSE_DOMAIN:
            return super()._read_group_format_result(rows_dict, lazy_groupby)
        try:
            keys = [
                group_keys.column_keys(
                    group_keys.key_kind(spec, field.type), [row[spec] for row in rows_dict]
                )
                for spec, field in zip(lazy_groupby, fields_, strict=True)
            ]
        except (TypeError, AttributeError):
            return super()._read_group_format_result(rows_dict, lazy_groupby)
        pieces = [
            self._sscale_format_distinct(spec, field, spec_keys, rows_dict)
            for spec, field, spec_keys in zip(lazy_groupby, fields_, keys, strict=True)
        ]
        # Each row's domain is expression.AND of the domain and its groups'
        # domains, in order: the operators, the domain and the first group's
        # part are the same for all rows of that first group.
        # (Compared as lists: Odoo 18.0 of 2026 made TRUE_DOMAIN a tuple that
        # only knows ==.)
        head = [] if list(base) == list(expression.TRUE_DOMAIN) else list(base)
        head[:0] = [expression.AND_OPERATOR] * (bool(head) + len(lazy_groupby) - 1)
        prefixes = {key: head + part[2] for key, part in pieces[0].items()}
        columns = list(zip(lazy_groupby, keys, pieces, strict=True))
        # With one grouping a row's domain is its prefix: copied, as rows
        # must not share lists.
        shared = len(columns) == 1
        for index, row in enumerate(rows_dict):
            row_domain = None
            for spec, spec_keys, spec_pieces in columns:
                key = spec_keys[index]
                label, bounds, spec_domain = spec_pieces[key]
                row[spec] = label
                if bounds is not None:
                    # Odoo's range of the group of unset dates is False.
                    row.setdefault("__range", {})[spec] = dict(bounds) if bounds else bounds
                row_domain = prefixes[key] if row_domain is None else row_domain + spec_domain
            row["__domain"] = list(row_domain) if shared else row_domain

    def _sscale_format_distinct(self, spec, field, spec_keys, rows_dict):
        """Odoo's formatting of one grouping, once per distinct value:
        {key: (label, range or None, the group's domain)}."""
        distinct = {}
        for key, row in zip(spec_keys, rows_dict, strict=True):
            if key not in distinct:
                distinct[key] = row[spec]
        if field.type == "many2one" and len(distinct) > 1:
            self._sscale_fetch_display_name_fields(
                self.env[field.comodel_name]
                .sudo()
                .browse(record.id for record in distinct.values() if record)
            )
        probes = [{spec: value, "__domain": []} for value in distinct.values()]
        super()._read_group_format_result(probes, [spec])
        return {
            key: (probe[spec], probe.get("__range", {}).get(spec), probe["__domain"])
            for key, probe in zip(distinct, probes, strict=True)
        }

    @api.model
    def _sscale_fetch_display_name_fields(self, records):
        """Read the columns the records' display names are computed from,
        and only those. The first read of a name would otherwise load every
        prefetchable column of the records (and of the product templates
        behind product names): descriptions, weights, images' metadata."""
        records.fetch(["display_name"])
        # One step further for related fields, such as a product's name
        # (its template's).
        for dotted in records.pool.field_depends[records._fields["display_name"]]:
            field = records._fields.get(dotted.split(".", 1)[0])
            if not (field and field.related and not field.store):
                continue
            through, _dot, target = field.related.partition(".")
            if records._fields[through].type == "many2one" and "." not in target:
                records[through].fetch([target])

    @api.model
    def _sscale_fields_used(self, domain, groupby):
        """The fields a question (``_read_group``'s ``domain`` and
        ``groupby``) groups or filters by: the first field of each path."""
        return {spec.split(":")[0] for spec in groupby} | {
            str(leaf[0]).split(".")[0]
            for leaf in domain or []
            if isinstance(leaf, list | tuple) and len(leaf) == 3
        }

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
