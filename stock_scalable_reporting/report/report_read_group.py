# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
from operator import itemgetter

from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from odoo import api, models
from odoo.models import parse_read_group_spec, regex_field_agg
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
    garbage collector, which is process-wide: removed).

    A pivot's question (``lazy=False``) goes further: each group's dict is
    made at once from the row PostgreSQL sent, with no intermediate tuple,
    recordset or dict per group. Fewer objects alive at
    once means fewer runs of Python's cyclic garbage collector (each full
    run walks the whole process's heap)."""

    _name = "stock.report.read.group.mixin"
    _description = "Stock Report Fast Grouping"

    # Whether the pivot's questions are answered from the raw rows
    # (read_group, lazy=False): only on models where every override of
    # _read_group (a view chosen, planner settings, a context) has its
    # twin on _sscale_read_group_raw, which that path calls instead.
    _sscale_eager_read_group = False

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

    @api.model
    @api.readonly
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        groupby = [groupby] if isinstance(groupby, str) else groupby
        if (
            self._sscale_eager_read_group
            and not lazy
            and groupby
            and not orderby
            and "fill_temporal" not in self.env.context
        ):
            rows = self._sscale_read_group_eager(domain, fields, groupby, offset, limit)
            if rows is not None:
                return rows
        return super().read_group(domain, fields, groupby, offset, limit, orderby, lazy)

    def _sscale_read_group_eager(self, domain, fields, groupby, offset, limit):
        """Odoo's ``read_group(domain, fields, groupby, offset, limit,
        lazy=False)``, or None for the questions it leaves to Odoo's (see
        the checks). The query is Odoo's ``_read_group``'s (its hooks,
        ``_sscale_read_group_raw``); each distinct group value is
        converted and formatted once by Odoo's own methods; then each row's
        dict is made from its raw values, in Odoo's key order."""
        annotated_groupby = self._read_group_get_annotated_groupby(groupby, lazy=False)
        fields_ = {}
        for spec in annotated_groupby:
            fname, property_name, _granularity = parse_read_group_spec(spec)
            if property_name or self._fields[fname].type in ("properties", "many2many"):
                return None
            fields_[spec] = self._fields[fname]
        # read_group's own translation of ``fields``, for the forms
        # "name:func" and "name:func(field)" (a plain name is left to Odoo's
        # read_group).
        annotated_aggregates = {"__count": "__count"}
        for field_spec in fields:
            if field_spec == "__count":
                continue
            match = regex_field_agg.match(field_spec)
            if not match:
                return None
            name, func, fname = match.groups()
            if not func or func in ("recordset", "array_agg"):
                return None
            annotated_aggregates[name] = f"{fname or name}:{func}"
        if expression.is_false(self, domain):
            return None
        base = expression.normalize_domain(domain)
        if base == expression.FALSE_DOMAIN:
            return None
        names = [*annotated_groupby, *annotated_aggregates]
        if len(set(names)) < len(names):
            # An aggregate named as a grouping: Odoo formats the aggregate.
            return None
        # _read_group_postprocess_aggregate's value for NULL.
        empties = dict(
            zip(
                range(len(annotated_groupby), len(names)),
                map(self._read_group_empty_value, annotated_aggregates.values()),
                strict=True,
            )
        )

        raw_rows = self._sscale_read_group_raw(
            domain,
            list(annotated_groupby.values()),
            list(annotated_aggregates.values()),
            offset,
            limit,
            ",".join(annotated_groupby.values()),
        )
        if not raw_rows:
            return []
        distinct = [
            list(dict.fromkeys(map(itemgetter(index), raw_rows)))
            for index in range(len(annotated_groupby))
        ]
        pieces = [
            self._sscale_format_distinct(
                spec,
                fields_[spec],
                dict(
                    zip(
                        raw,
                        self._read_group_postprocess_groupby(sql_spec, raw),
                        strict=True,
                    )
                ),
            )
            for (spec, sql_spec), raw in zip(annotated_groupby.items(), distinct, strict=True)
        ]
        return self._sscale_build_rows(
            raw_rows, base, list(annotated_groupby), pieces, names, empties
        )

    def _sscale_build_rows(self, raw_rows, base, specs, pieces, names, empties):
        """read_group's dicts of ``raw_rows`` (raw values of ``names``, the
        groupings' first; emptied as they are read), from ``pieces`` ({raw
        value: (label, range, domain)} per grouping, see
        ``_sscale_format_distinct``) and ``empties`` ({index of an
        aggregate: its value for NULL})."""
        count = len(specs)
        prefixes = self._sscale_domain_prefixes(base, count, pieces[0])
        labels = [{key: piece[0] for key, piece in spec_pieces.items()} for spec_pieces in pieces]
        others = [
            (index, spec, labels[index], {key: piece[2] for key, piece in pieces[index].items()})
            for index, spec in enumerate(specs)
            if index
        ]
        dated = [
            (index, spec, {key: piece[1] for key, piece in pieces[index].items()})
            for index, spec in enumerate(specs)
            if any(piece[1] is not None for piece in pieces[index].values())
        ]
        first_spec, first_labels = specs[0], labels[0]
        rows = []
        append = rows.append
        # Each raw row is dropped as its dict is made: fewer objects alive.
        raw_rows.reverse()
        pop = raw_rows.pop
        for _index in range(len(raw_rows)):
            raw = pop()
            row = dict(zip(names, raw, strict=False))
            key = raw[0]
            row[first_spec] = first_labels[key]
            row_domain = prefixes[key]
            for index, spec, spec_labels, spec_domains in others:
                key = raw[index]
                row[spec] = spec_labels[key]
                row_domain = row_domain + spec_domains[key]
            # Rows never share a list (Odoo makes one per row).
            row["__domain"] = row_domain if others else list(row_domain)
            if dated:
                ranges = {}
                for index, spec, bounds in dated:
                    # Odoo's range of the group of unset dates is False;
                    # a grouping by a date part has none.
                    spec_bounds = bounds[raw[index]]
                    if spec_bounds is not None:
                        ranges[spec] = dict(spec_bounds) if spec_bounds else spec_bounds
                if ranges:
                    row["__range"] = ranges
            if None in raw:
                for index, empty in empties.items():
                    if raw[index] is None:
                        row[names[index]] = empty
            append(row)
        return rows

    @api.model
    def _sscale_read_group_raw(self, domain, groupby, aggregates, offset, limit, order):
        """The rows of Odoo's ``_read_group(domain, groupby, aggregates,
        offset=..., limit=..., order=...)`` query, built by the same hooks,
        as PostgreSQL sends them (not converted). Report models that send a
        question to another view or change planner settings for it
        override this as they override ``_read_group``."""
        self.browse().check_access("read")
        query = self._search(domain)
        query.limit = limit
        query.offset = offset
        groupby_terms = {spec: self._read_group_groupby(spec, query) for spec in groupby}
        query.groupby = SQL(", ").join(groupby_terms.values())
        query.having = self._read_group_having([], query)
        query.order = self._read_group_orderby(order, groupby_terms, query)
        select_terms = [self._read_group_select(spec, query) for spec in aggregates]
        sql = query.select(*groupby_terms.values(), *select_terms)
        return self.env.execute_query(sql)

    @api.model
    def _sscale_domain_prefixes(self, base, count, first_pieces):
        """{value of the first grouping: the start of its rows' domain}.
        Each row's domain is expression.AND of the domain and its groups'
        domains, in order: the operators, the domain and the first group's
        part are the same for all rows of that first group."""
        # (Compared as lists: Odoo 18.0 of 2026 made TRUE_DOMAIN a tuple
        # that only knows ==.)
        head = [] if list(base) == list(expression.TRUE_DOMAIN) else list(base)
        head[:0] = [expression.AND_OPERATOR] * (bool(head) + count - 1)
        return {key: head + piece[2] for key, piece in first_pieces.items()}

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
        pieces = []
        for spec, field, spec_keys in zip(lazy_groupby, fields_, keys, strict=True):
            distinct = {}
            for key, row in zip(spec_keys, rows_dict, strict=True):
                if key not in distinct:
                    distinct[key] = row[spec]
            pieces.append(self._sscale_format_distinct(spec, field, distinct))
        prefixes = self._sscale_domain_prefixes(base, len(lazy_groupby), pieces[0])
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

    def _sscale_format_distinct(self, spec, field, distinct):
        """Odoo's formatting of grouping ``spec`` (on ``field``), once per
        distinct value ({key: value as _read_group returns it}):
        {key: (label, range or None, the group's domain)}."""
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
