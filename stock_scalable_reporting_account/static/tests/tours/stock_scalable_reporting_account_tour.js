/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import { registry } from "@web/core/registry";
import { openInventory, openMenu, unselectAll } from "@stock_scalable/../tests/tours/tour_steps";
import {
    refreshNow,
    showAtDate,
} from "@stock_scalable_reporting/../tests/tours/stock_scalable_reporting_tour";

function openReport(xmlid, title) {
    return openMenu(
        "stock.menu_warehouse_report",
        `stock_scalable_reporting_account.${xmlid}`,
        title
    );
}

registry.category("web_tour.tours").add("stock_scalable_reporting_account_tour", {
    url: "/odoo",
    steps: () => [
        ...openInventory(),
        // Valuation Analysis: pivot (default), graph, list, a grouping.
        ...openReport("menu_stock_valuation_report", "Valuation Analysis"),
        {
            content: "Pivot by default, with the tour's category",
            trigger: ".o_pivot_view .o_pivot table th:contains('Tour Valued')",
        },
        { content: "Switch to graph", trigger: "button.o_switch_view.o_graph", run: "click" },
        { content: "Graph drawn", trigger: ".o_graph_view .o_graph_renderer canvas" },
        { content: "Switch to list", trigger: "button.o_switch_view.o_list", run: "click" },
        {
            content: "The tour's receipt is listed with its value",
            trigger: ".o_list_view .o_data_row:contains('Tour Valued Pallet') td[name=value]:contains('35.00')",
        },
        ...refreshNow("Valuation Analysis"),
        ...unselectAll("Unselect the row"),
        {
            content: "Open the search panel",
            trigger: ".o_control_panel .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Group by product category",
            trigger: ".o_group_by_menu .o_menu_item:contains('Product Category')",
            run: "click",
        },
        { content: "Grouped", trigger: ".o_list_view .o_group_header:contains('Tour Valued')" },
        // Valuation at Date: the wizard, then its report.
        ...openReport("menu_stock_valuation_date"),
        ...showAtDate("valuation", "Valuation"),
        {
            content: "Pivot by category and warehouse",
            trigger: ".o_pivot_view .o_pivot table th:contains('Tour Valued')",
        },
        { content: "Switch to list", trigger: "button.o_switch_view.o_list", run: "click" },
        {
            content: "The product's value at that date",
            trigger: ".o_list_view .o_data_row:contains('Tour Valued Pallet') td[name=value]:contains('35.00')",
        },
    ],
});
