# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The plan of a batch of inventory commands posted together
(``inventory_command/batch.py``), without Odoo: which commands fit, applied
in order, on the stock read under the quant keys' locks."""


def plan_batch(moves, on_hand, negative_allowed=frozenset()):
    """Which commands of a batch fit, applied in order, without going below
    zero where that is forbidden.

    ``moves``: ``[(index, take_key, give_key, quantity)]`` in publishing order
    (``take_key`` is the quant key stock leaves, ``give_key`` the one it
    enters; either may be None; quantity in the product's unit, > 0).
    ``on_hand``: ``{key: quantity}`` read under the keys' locks;
    ``negative_allowed``: keys that may go below zero. Returns ``(fits,
    refused)``: the indexes that fit, and ``{index: available}`` for those
    that do not.

    >>> plan_batch([(0, "A", None, 2), (1, "A", None, 2), (2, None, "A", 5), (3, "A", None, 4)],
    ...            {"A": 3})
    ([0, 2, 3], {1: 1})
    >>> plan_batch([(0, "A", None, 9)], {}, negative_allowed={"A"})
    ([0], {})
    """
    stock = dict(on_hand)
    fits, refused = [], {}
    for index, take, give, quantity in moves:
        if take is not None:
            available = stock.get(take, 0.0)
            if take not in negative_allowed and quantity > available + 1e-9:
                refused[index] = max(available, 0.0)
                continue
            stock[take] = available - quantity
        if give is not None:
            stock[give] = stock.get(give, 0.0) + quantity
        fits.append(index)
    return fits, refused
