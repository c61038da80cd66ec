/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { registry } from "@web/core/registry";
import {
    notified,
    openInventory,
    openMenu,
    openSettings,
    selectRow,
} from "@stock_scalable/../tests/tours/tour_steps";

function openReport(xmlid, title) {
    return openMenu("stock.menu_warehouse_report", `stock_scalable_reporting.${xmlid}`, title);
}

const QUEUED = "refresh of the stock reports is queued";

/** Refresh Now without, then with a selection (the first row of the list);
 * the valuation bridge's tour takes it too. */
export const refreshNow = (what) => [
    {
        content: `Refresh Now on ${what}, nothing selected`,
        trigger: ".o_control_panel button:contains('Refresh Now')",
        run: "click",
    },
    ...notified("Queued for the background worker", QUEUED),
    ...selectRow(`Select a row of ${what}`, ".o_list_view .o_data_row:first"),
    {
        content: `Refresh Now on ${what}, with a selection`,
        trigger: ".o_control_panel button:contains('Refresh Now')",
        run: "click",
    },
    ...notified("Queued again", QUEUED),
];

/** A report at a date from its wizard (open): pick 12/31/2030, show the
 * ``what``, and its title ``title`` names the date; the valuation bridge's
 * tour takes it too. */
export const showAtDate = (what, title) => [
    {
        content: "Pick a date",
        trigger: ".modal .o_field_widget[name=date] input",
        run: "edit 12/31/2030",
    },
    {
        content: `Show the ${what}`,
        trigger: ".modal button[name=action_open]",
        run: "click",
    },
    {
        content: "Its title names the date, in the user's format",
        trigger: `body:not(:has(.modal)) .o_breadcrumb:contains('${title} at 12/31/2030')`,
    },
];

registry.category("web_tour.tours").add("stock_scalable_reporting_tour", {
    url: "/odoo",
    steps: () => [
        ...openInventory(),
        // Stock Movements: pivot (default), graph, list, a filter.
        ...openReport("menu_stock_movement_report", "Stock Movements"),
        { content: "Pivot by default", trigger: ".o_pivot_view .o_pivot table" },
        { content: "Switch to graph", trigger: "button.o_switch_view.o_graph", run: "click" },
        { content: "Graph drawn", trigger: ".o_graph_view .o_graph_renderer canvas" },
        { content: "Switch to list", trigger: "button.o_switch_view.o_list", run: "click" },
        { content: "List shown", trigger: ".o_list_view .o_data_row" },
        {
            content: "Open the search panel",
            trigger: ".o_control_panel .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Filter the receipts",
            trigger: ".o_filter_menu .o_menu_item:contains('Receipts')",
            run: "click",
        },
        {
            content: "The filter applies",
            trigger: ".o_searchview_facet:contains('Receipts')",
        },
        {
            // Rows of other types were listed before the filter: none is left
            // once the filtered list has loaded.
            content: "Only receipts are listed",
            trigger: ".o_list_view:has(.o_data_row):not(:has(.o_data_row td[name=movement_type]:not(:contains('Receipt'))))",
        },
        ...refreshNow("Stock Movements"),
        // Stock Levels: grouped list (default), pivot, graph.
        ...openReport("menu_stock_level_report", "Stock Levels"),
        { content: "Levels grouped by warehouse", trigger: ".o_list_view .o_group_header" },
        {
            content: "Open the first warehouse group",
            trigger: ".o_list_view .o_group_header:first",
            run: "click",
        },
        { content: "Its rows are shown", trigger: ".o_list_view .o_data_row" },
        ...refreshNow("Stock Levels"),
        { content: "Switch to pivot", trigger: "button.o_switch_view.o_pivot", run: "click" },
        { content: "Pivot shown", trigger: ".o_pivot_view .o_pivot table" },
        { content: "Switch to graph", trigger: "button.o_switch_view.o_graph", run: "click" },
        { content: "Graph drawn", trigger: ".o_graph_view .o_graph_renderer canvas" },
        // Inventory at Date: the wizard, then its report.
        ...openReport("menu_stock_inventory_date"),
        ...showAtDate("inventory", "Inventory"),
        {
            content: "The inventory at that date is listed",
            trigger: ".o_list_view .o_list_table",
        },
        {
            content: "Only products in stock that day are listed",
            trigger: ".o_searchview_facet:contains('In Stock')",
        },
        // Report Refreshes: what each view holds, in seconds.
        ...openReport("menu_stock_report_refresh", "Report Refreshes"),
        {
            content: "Refreshes say what they refreshed",
            trigger: ".o_list_view .o_data_row td[name=summary]:contains('Daily movements by location')",
        },
        {
            content: "Durations are in seconds",
            trigger: ".o_list_view th:contains('Duration (s)')",
        },
        ...refreshNow("Report Refreshes"),
        // The setting of the reports.
        ...openSettings(),
        {
            content: "The refresh interval is there",
            trigger: "#sscale_report_refresh:contains('Report refresh')",
        },
    ],
});
