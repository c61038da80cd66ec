/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// Steps the tours of the three addons share: open Inventory, open a menu
// item under one of its top menus, open the settings, a notification, a
// selection.
//
// Each step waits for a state, never for time: the step after an action
// triggers on what that action changes (the new screen's breadcrumb, the
// selection counter, a notification). A notification is closed once seen,
// so that the next one with the same text is a new one, not the old one
// still on screen (they stay 4 seconds, more on a busy machine).
import { stepUtils } from "@web_tour/tour_service/tour_utils";

export function openInventory() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open Inventory",
            trigger: ".o_app[data-menu-xmlid='stock.menu_stock_root']",
            run: "click",
        },
        {
            content: "Inventory is open",
            trigger: ".o_main_navbar .o_menu_brand:contains('Inventory')",
        },
    ];
}

/** Open menu item ``item`` (a full xmlid) under Inventory's top menu ``top``.
 * ``title``: the name of the action it opens in the main area; the last
 * step waits until the breadcrumb holds that name alone (the screen before
 * is gone). Without it (a wizard, the settings) the caller's next step
 * must trigger on something only the new screen has. */
export function openMenu(top, item, title) {
    const steps = [
        {
            content: `Open ${top}`,
            trigger: `.dropdown-toggle[data-menu-xmlid="${top}"]`,
            run: "click",
        },
        {
            content: `Open ${item}`,
            trigger: `.dropdown-item[data-menu-xmlid="${item}"]`,
            run: "click",
        },
    ];
    if (title) {
        steps.push({
            content: `${title} is the only screen in the breadcrumb`,
            trigger: `.o_breadcrumb:not(:has(.breadcrumb-item)) .o_last_breadcrumb_item:contains('${title}')`,
        });
    }
    return steps;
}

/** Open Inventory's settings and wait until they are shown. The settings
 * screen is the slowest to load (the views and the onchange of every
 * installed module's settings): on a busy machine it took 8 of the 10
 * seconds a step may wait, so this step may wait up to 30. */
export function openSettings() {
    return [
        ...openMenu("stock.menu_stock_config_settings", "stock.menu_stock_general_settings"),
        {
            content: "Inventory's settings are shown",
            trigger: ".o_form_view .settings .app_settings_block[data-key=stock]",
            timeout: 30000,
        },
    ];
}

/** Wait for the notification that says ``text``, then close it and wait
 * until it is gone. */
export function notified(content, text) {
    const notification = `.o_notification:contains('${text}')`;
    return [
        {
            content,
            trigger: `${notification} .o_notification_close`,
            run: "click",
        },
        {
            content: `The notification "${text}" is closed`,
            trigger: `body:not(:has(${notification}))`,
        },
    ];
}

/** Tick the list row ``row`` (a selector) and wait until the list counts
 * ``count`` selected rows (the header buttons act on that selection). */
export function selectRow(content, row, count = 1) {
    return [
        {
            content,
            trigger: `${row} .o_list_record_selector input:not(:checked)`,
            run: "click",
        },
        {
            content: `${count} selected`,
            trigger: `.o_list_selection_box:contains(${count}):contains(selected)`,
        },
    ];
}

/** Untick every row and wait until nothing is selected. */
export function unselectAll(content) {
    return [
        {
            content,
            trigger: ".o_list_selection_box .o_list_unselect_all",
            run: "click",
        },
        {
            content: "Nothing is selected",
            trigger: ".o_list_view:not(:has(.o_list_record_selector input:checked))",
        },
    ];
}
