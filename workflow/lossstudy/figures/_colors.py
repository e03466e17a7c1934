"""The colour of every estimator and loss, assigned in one place, and the line style of each
loss family.

Why one module: an estimator must have one colour in every figure of the report (the
per-scenario figures, the nested loop, the sweeps) and a loss the same colour in the training
figures as the exact estimator of that loss, whatever the study's estimators; the colours come
from one colour-blind-safe palette so that no two estimators share a hue.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

#: Paul Tol's "muted" qualitative scheme: nine colours that stay apart under the common
#: colour-vision deficiencies and in greyscale print; every estimator and every loss of every
#: figure takes its colour from here (:func:`estimator_colors`, :func:`loss_color`)
PALETTE = (
    "#332288",  # indigo
    "#117733",  # green
    "#CC6677",  # rose
    "#AA4499",  # purple
    "#999933",  # olive
    "#44AA99",  # teal
    "#DDCC77",  # sand
    "#88CCEE",  # cyan
    "#882255",  # wine
)
#: Paul Tol's "light" scheme, for the families past the nine of :data:`PALETTE` (the default
#: study has 14 exact families): lighter, still apart from the muted nine. Ordered so that the
#: default study's tenth to twelfth families (ridge tuned by GCV and CV, then the lasso, which
#: share figures with sand, cyan and rose) get pear, pink and orange, the hues furthest from those
EXTRA = (
    "#BBCC33",  # pear
    "#FFAABB",  # pink
    "#EE8866",  # orange
    "#77AADD",  # light blue
    "#44BB99",  # mint
    "#99DDFF",  # light cyan
    "#EEDD88",  # light yellow
    "#AAAA00",  # olive yellow
    "#DDDDDD",  # pale grey
)
#: the losses' colours: the first five of :data:`PALETTE`, so an exact estimator that is the
#: first of its loss (OLS for squared, LAD for absolute, Huber) and the trained estimators of
#: that loss share one colour across the report
LOSS_COLORS = {
    "squared": PALETTE[0],
    "huber": PALETTE[1],
    "absolute": PALETTE[2],
    "pseudo_huber": PALETTE[3],
    "log_cosh": PALETTE[4],
}
#: the colours of no loss, in the order families other than a loss's first take them
OTHER_COLORS = tuple(c for c in PALETTE if c not in LOSS_COLORS.values())
#: line style of an exact estimator by its loss: the L2 family (OLS under any SE, WLS, ridge)
#: solid, L1 dashed, Huber dash-dot, any other loss dotted
LOSS_LINES = {"squared": "-", "weighted_squared": "-", "absolute": "--", "huber": "-."}


def estimator_family(name: str) -> str:
    """The family of an estimator id: a sweep member ``ridge-penalty10`` belongs to ``ridge``
    (members are named ``{family}-{parameter}{value}``), any other id is its own family."""
    return name.split("-", 1)[0]


@cache
def _shorthand(name: str) -> tuple[str, str]:
    """(loss, penalty) of the ``method:`` shorthand an estimator id is named after (``ols``,
    ``ols_hc3`` → squared, none; ``ridge-penalty10`` → squared, l2), of a loss named by the id,
    else ("", "")."""
    from lossstudy.methods import SHORTHANDS, load

    load()
    family = estimator_family(name)
    for key in (family, family.split("_", 1)[0]):
        if key in SHORTHANDS:
            loss, penalty = SHORTHANDS[key].key[:2]
            return str(loss), str(penalty)
        if key in LOSS_COLORS:
            return key, "none"
    return "", ""


def estimator_loss(name: str) -> str:
    """The loss of an exact estimator, read from its id (:func:`_shorthand`); "" if unknown."""
    return _shorthand(name)[0]


def estimator_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per estimator family, deterministic from the order of ``names`` (the study's
    estimator order): the first unpenalised family of each loss takes the loss's colour, the
    others take the colours of no loss (:data:`OTHER_COLORS`), then those of the losses no
    family took, then Tol's light nine (:data:`EXTRA`); past 18 families the colours repeat.
    Sweep members share their family's colour. Every figure colours estimators through this."""
    families = list(dict.fromkeys(estimator_family(str(n)) for n in names))
    colors: dict[str, str] = {}
    seen: set[str] = set()
    for fam in families:
        loss, penalty = _shorthand(fam)
        if loss in LOSS_COLORS and penalty == "none" and loss not in seen:
            colors[fam] = LOSS_COLORS[loss]
            seen.add(loss)
    used = set(colors.values())
    free = [c for c in (*OTHER_COLORS, *LOSS_COLORS.values()) if c not in used]
    pool = [*free, *EXTRA, *PALETTE]
    for i, fam in enumerate(f for f in families if f not in colors):
        colors[fam] = pool[i % len(pool)]
    return {str(n): colors[estimator_family(str(n))] for n in names}


def estimator_line(name: str) -> str:
    """The line style of an estimator's loss family (:data:`LOSS_LINES`)."""
    return LOSS_LINES.get(estimator_loss(name), ":")
