/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// Steps the tours of the three addons share: open Inventory, open a menu
// item under one of its top menus, open the settings.
import { stepUtils } from "@web_tour/tour_service/tour_utils";

export function openInventory() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open Inventory",
            trigger: ".o_app[data-menu-xmlid='stock.menu_stock_root']",
            run: "click",
        },
    ];
}

/** Open menu item ``item`` (a full xmlid) under Inventory's top menu ``top``. */
export function openMenu(top, item) {
    return [
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
}

export function openSettings() {
    return openMenu("stock.menu_stock_config_settings", "stock.menu_stock_general_settings");
}
