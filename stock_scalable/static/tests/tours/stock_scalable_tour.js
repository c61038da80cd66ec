/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// Every screen and button of stock_scalable, as an inventory administrator
// meets them: the ledger drift report (header buttons with and without a
// selection), the settings, and the negative-stock guard's refusal.
import { registry } from "@web/core/registry";
import {
    notified,
    openInventory,
    openMenu,
    openSettings,
    selectRow,
} from "./tour_steps";

const DRIFT_ROW = ".o_data_row:contains('Tour Drift Product')";

registry.category("web_tour.tours").add("stock_scalable_tour", {
    url: "/odoo",
    steps: () => [
        ...openInventory(),
        ...openMenu(
            "stock.menu_warehouse_report",
            "stock_scalable.menu_stock_ledger_drift",
            "Stock Ledger Drift"
        ),
        {
            content: "Check Ledger Now, nothing selected",
            trigger: ".o_control_panel button:contains('Check Ledger Now')",
            run: "click",
        },
        ...notified("The check says what it found", "Stock ledger checked"),
        {
            // The finding is made by the check: the list has reloaded.
            content: "The drifting key is listed",
            trigger: `.o_list_view ${DRIFT_ROW}`,
        },
        ...selectRow("Select it", `.o_list_view ${DRIFT_ROW}`),
        {
            content: "Check Ledger Now, with a selection",
            trigger: ".o_control_panel button:contains('Check Ledger Now')",
            run: "click",
        },
        ...notified("Checked again", "Stock ledger checked"),
        {
            // The check reloads the list (soft_reload), which drops the
            // selection: an unticked row is the reloaded list, not the old one.
            content: "The list has reloaded, nothing selected",
            trigger: `.o_list_view:not(:has(.o_list_record_selector input:checked)) ${DRIFT_ROW} .o_list_record_selector input:not(:checked)`,
        },
        ...selectRow("Select the drifting key again", `.o_list_view ${DRIFT_ROW}`),
        {
            content: "Repair Selected",
            trigger: ".o_control_panel button:contains('Repair Selected')",
            run: "click",
        },
        {
            content: "Confirm the repair",
            trigger: ".modal:contains('Set the on-hand of the selected keys') .modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The key is repaired: it leaves the list of open findings",
            trigger: "body:not(:has(.modal)) .o_list_view:not(:has(.o_data_row:contains('Tour Drift Product')))",
        },
        // The settings of stock_scalable.
        ...openSettings(),
        {
            content: "The negative-stock policy is there",
            trigger: "#sscale_negative_stock:contains('Negative Stock')",
        },
        {
            content: "The serial-number rule is there",
            trigger: "#sscale_unique_serial:contains('Serial Numbers Once in Stock')",
        },
        {
            content: "The inventory commands' retention is there",
            trigger: "#sscale_command_retention:contains('Inventory Commands') input",
        },
        {
            content: "Open the inventory commands from the settings",
            trigger: "#sscale_command_retention button:contains('Inventory Commands')",
            run: "click",
        },
        {
            content: "The refused command shows its error code",
            trigger: ".o_list_view .o_data_row:contains('TOUR-CMD-2'):contains('insufficient_stock')",
        },
        // The same list from its menu, then a command and its document.
        ...openMenu(
            "stock.menu_stock_warehouse_mgmt",
            "stock_scalable.menu_stock_inventory_command",
            "Inventory Commands"
        ),
        {
            content: "Open the done command",
            trigger: ".o_list_view .o_data_row:contains('TOUR-CMD-1') td[name='idempotency_key']",
            run: "click",
        },
        {
            content: "Its form shows its key",
            trigger: ".o_form_view h1:contains('TOUR-CMD-1')",
        },
        {
            content: "Open the transfer it posted",
            trigger: ".o_form_view button[name='action_open_document']",
            run: "click",
        },
        {
            content: "The transfer opens",
            trigger: ".o_form_view .o_breadcrumb:contains('TOUR-CMD-1'):contains('WH/')",
        },
    ],
});

// Opened on a delivery that asks for 5 units with 2 in stock (the test
// passes its URL).
registry.category("web_tour.tours").add("stock_scalable_guard_tour", {
    steps: () => [
        {
            content: "Validate it",
            trigger: ".o_form_view button[name=button_validate]",
            run: "click",
        },
        {
            content: "The refusal names the product, the location and the quantities",
            trigger: ".modal .modal-body:contains('Tour Guard Product'):contains('WH/Stock'):contains('5.00 Units requested, only 2.00 Units available')",
        },
        {
            content: "Close the refusal",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The refusal is closed; the transfer is still to do",
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status button.o_arrow_button_current:not(:contains('Done'))",
        },
    ],
});
