# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""GS1-128 barcodes of inventory commands, without Odoo: the human-readable
form turned into a scanner's raw one (Odoo's GS1 nomenclature decodes that,
``inventory_command/resolution.py``), and the decoded elements merged into
the command (:class:`.commands.Command`)."""

from .commands import CommandError, check_quantity

GS1_SEPARATOR = "\x1d"  # FNC1, as a scanner sends it between variable-length fields


def gs1_raw(barcode):
    """A GS1-128 barcode as a scanner sends it. The human-readable form, with
    each application identifier in parentheses, becomes the raw one (FNC1
    between fields); a raw barcode is returned unchanged.

    >>> gs1_raw("(01)00000000000017(10)LOT-A(30)5") == "0100000000000017\x1d10LOT-A\x1d305"
    True
    >>> gs1_raw("010000000000001710LOT-A")
    '010000000000001710LOT-A'
    """
    text = barcode.strip()
    if not text.startswith("("):
        return text
    fields = []
    for chunk in text[1:].split("("):
        ai, sep, value = chunk.partition(")")
        if not sep or not ai.isdigit():
            raise CommandError(
                "bad_barcode", f"{barcode!r} is not a GS1-128 barcode", barcode=barcode
            )
        fields.append(ai + value)
    return GS1_SEPARATOR.join(fields)


def merge_gs1(command, elements):
    """Fill ``command`` from decoded GS1-128 elements: ``[(type, value)]``
    with the types of Odoo's GS1 nomenclature (``product``, ``lot``,
    ``expiration_date``, ``quantity``, ``package``). A value also given as a
    field must agree with it. Raises :class:`CommandError` (``malformed``)."""
    fields = {
        "product": "product",
        "lot": "lot",
        "package": "package",
        "quantity": "quantity",
        "expiration_date": "expiration_date",
    }
    for kind, value in elements:
        name = fields.get(kind)
        if not name:
            continue
        if name == "quantity":
            value = float(value)
        current = getattr(command, name)
        if current is not None and current != value:
            raise CommandError(
                "malformed",
                f"{name} {current!r} differs from the barcode's {value!r}",
                field=name,
            )
        setattr(command, name, value)
    if command.quantity is not None:
        check_quantity(command.type, command.quantity)
    return command
