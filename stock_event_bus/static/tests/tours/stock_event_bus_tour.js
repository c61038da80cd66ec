/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// Every screen and button of stock_event_bus: the status screen (a titled
// screen, not a "New" record), its buttons and stat buttons, the outbox list
// with its header buttons without and with a selection, an event's form.
import { registry } from "@web/core/registry";
import {
    notified,
    openInventory,
    openMenu,
    selectRow,
} from "@stock_scalable/../tests/tours/tour_steps";

function openEventBus(xmlid, title) {
    return openMenu("stock.menu_stock_config_settings", `stock_event_bus.${xmlid}`, title);
}

const FAILED_COUNT = ".o_form_view .o_field_widget[name=failed_count] .o_stat_value";

registry.category("web_tour.tours").add("stock_event_bus_tour", {
    url: "/odoo",
    steps: () => [
        ...openInventory(),
        ...openEventBus("menu_event_bus_status", "Event Bus Status"),
        {
            content: "The screen has its title, not 'New'",
            trigger: ".o_breadcrumb:contains('Event Bus Status'):not(:contains('New'))",
        },
        {
            content: "Nothing to save or discard",
            trigger: ".o_form_view:not(:has(.o_form_button_save:visible))",
        },
        {
            content: "The running dispatcher is listed with its heartbeat",
            trigger: ".o_field_widget[name=dispatcher_ids] .o_data_row:contains('tour-dispatcher')",
        },
        {
            content: "Level events are on, and the changes waiting for one are counted",
            trigger: ".o_field_widget[name=level_events] input:checked",
        },
        {
            content: "The level changes waiting are shown",
            trigger: ".o_field_widget[name=level_changes_pending]:not(:empty)",
        },
        {
            content: "The failed events are counted",
            trigger: `${FAILED_COUNT}:not(:text(0))`,
        },
        {
            content: "Test Connection",
            trigger: ".o_form_view button[name=action_test_connection]",
            run: "click",
        },
        ...notified("The broker answered", "Connected to"),
        {
            content: "The title did not change",
            trigger: ".o_breadcrumb:contains('Event Bus Status'):not(:contains('stock.event.bus.status'))",
        },
        {
            content: "Retry the failed events",
            trigger: ".o_form_view button[name=action_retry_failed]",
            run: "click",
        },
        ...notified("Queued again", "queued for publishing again"),
        {
            content: "Refresh",
            trigger: ".o_form_view button[name=action_refresh]",
            run: "click",
        },
        {
            content: "Refreshed: nothing failed any more",
            trigger: `${FAILED_COUNT}:text(0)`,
        },
        {
            content: "Still the status screen",
            trigger: ".o_breadcrumb:contains('Event Bus Status')",
        },
        {
            content: "Open the pending events",
            trigger: ".o_form_view button[name=action_open_pending]",
            run: "click",
        },
        {
            content: "The outbox lists them, under the status screen",
            trigger: ".o_breadcrumb:has(.breadcrumb-item:contains('Event Bus Status')) .o_last_breadcrumb_item:contains('Stock Events')",
        },
        {
            content: "The outbox has rows",
            trigger: ".o_list_view .o_data_row",
        },
        // The outbox from its menu: header buttons without and with a selection.
        ...openEventBus("menu_event_bus_outbox", "Stock Events"),
        {
            content: "Retry Failed, nothing selected",
            trigger: ".o_control_panel button:contains('Retry Failed')",
            run: "click",
        },
        {
            content: "Nothing failed any more: the user is told so",
            trigger: ".modal .modal-body:contains('There is no failed event to retry')",
        },
        {
            content: "Close the message",
            trigger: ".modal:contains('There is no failed event to retry') .modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The message is closed",
            trigger: "body:not(:has(.modal)) .o_list_view .o_data_row",
        },
        ...selectRow("Select an event", ".o_list_view .o_data_row:first"),
        {
            content: "Replay it",
            trigger: ".o_control_panel button:contains('Replay')",
            run: "click",
        },
        ...notified("Queued for publishing again", "queued for publishing again"),
        {
            content: "Open an event",
            trigger: ".o_list_view .o_data_row:first td.o_data_cell[name=event_type]",
            run: "click",
        },
        {
            content: "Its JSON payload is shown in the code editor",
            trigger: ".o_form_view .o_field_widget[name=payload_text] .ace_editor .ace_text-layer:contains('event_id')",
        },
        {
            content: "Replay it from its form",
            trigger: ".o_form_view button[name=action_replay]",
            run: "click",
        },
        ...notified("Queued again", "queued for publishing again"),
    ],
});
