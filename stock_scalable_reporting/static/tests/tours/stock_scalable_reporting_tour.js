/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

function openReport(xmlid) {
    return [
        {
            content: "Open Inventory > Reporting",
            trigger: '.dropdown-toggle[data-menu-xmlid="stock.menu_warehouse_report"]',
            run: "click",
        },
        {
            content: `Open ${xmlid}`,
            trigger: `.dropdown-item[data-menu-xmlid="stock_scalable_reporting.${xmlid}"]`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("stock_scalable_reporting_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open Inventory",
            trigger: ".o_app[data-menu-xmlid='stock.menu_stock_root']",
            run: "click",
        },
        // Stock Movements: pivot (default), graph, list, a filter.
        ...openReport("menu_stock_movement_report"),
        {
            content: "The title says how fresh the views are",
            trigger: ".o_breadcrumb:contains('Stock Movements'):contains('live postings')",
        },
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
            content: "Only receipts are listed",
            trigger: ".o_list_view .o_data_row td[name=movement_type]:contains('Receipt')",
        },
        // Stock Levels: grouped list (default), pivot, graph.
        ...openReport("menu_stock_level_report"),
        { content: "Levels grouped by warehouse", trigger: ".o_list_view .o_group_header" },
        { content: "Switch to pivot", trigger: "button.o_switch_view.o_pivot", run: "click" },
        { content: "Pivot shown", trigger: ".o_pivot_view .o_pivot table" },
        { content: "Switch to graph", trigger: "button.o_switch_view.o_graph", run: "click" },
        { content: "Graph drawn", trigger: ".o_graph_view .o_graph_renderer canvas" },
        // Inventory at Date: the wizard, then its report.
        ...openReport("menu_stock_inventory_date"),
        {
            content: "Pick a date",
            trigger: ".modal .o_field_widget[name=date] input",
            run: "edit 01/01/2026",
        },
        {
            content: "Show the inventory",
            trigger: ".modal button[name=action_open]",
            run: "click",
        },
        {
            content: "The inventory at that date is listed",
            trigger: ".o_list_view .o_list_table",
        },
        {
            content: "Its title names the date",
            trigger: ".o_breadcrumb:contains('Inventory at 2026-01-01')",
        },
    ],
});
