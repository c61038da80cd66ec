/** @odoo-module */
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
// The AMQP User of a user's form (Access Rights tab), as a Settings
// administrator maps a RabbitMQ user to the Odoo user its commands post as.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("stock_event_bus_amqp_user_tour", {
    steps: () => [
        {
            content: "The user's form is open",
            trigger: ".o_form_view .o_field_widget[name=login]",
        },
        {
            content: "Access Rights",
            trigger: ".o_notebook a[name=access_rights]",
            run: "click",
        },
        {
            content: "Map the RabbitMQ user",
            trigger: ".o_field_widget[name=amqp_user] input",
            run: "edit tour-wms",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved: nothing left to save, the mapping shown",
            trigger:
                ".o_form_view:not(:has(.o_form_button_save:visible)) " +
                ".o_field_widget[name=amqp_user] input:value(tour-wms)",
        },
    ],
});
