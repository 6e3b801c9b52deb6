"""The app's keys: :data:`BINDINGS`, and every list of keys generated from it.

``BINDINGS`` is the one place a key is bound.  The Footer shows a binding's
``description``; its ``tooltip`` reads ``"Title — what it does"``, which is
the command palette's title and help.  The help screen's keys section and the
README's keys table group and word the keys for reading (:data:`HELP_LINES`,
:data:`README_ROWS`), but they name *actions*: the keys in them are always
looked up here, so they cannot drift from what is bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.keys import format_key

#: The panes the keys 1–5 show (one at a time in the compact layout): id, title, what.
PANES: tuple[tuple[str, str, str], ...] = (
    ("diagram", "Diagram", "the network"),
    ("params", "Parameters", "every θ"),
    ("forward", "Forward", "the forward pass"),
    ("chain", "Chain", "the chain rule"),
    ("loss", "Loss", "the loss plot"),
)

#: The tooltip's separator between the palette title and its help.
TITLE_SEPARATOR = " — "


def _hidden(key: str, action: str, description: str, tooltip: str, shows: str = "") -> Binding:
    """A binding the Footer leaves out (help and the palette still list it).

    ``shows`` is how its keys read when that differs from their names.
    """
    return Binding(key, action, description, show=False, key_display=shows or None, tooltip=tooltip)


BINDINGS: list[Binding] = [
    Binding("s,space", "step", "Step", tooltip="Step — one whole gradient-descent step (finishes a partial one)"),
    Binding("n", "next_phase", "Phase", tooltip="Next phase — compute the next phase: update, forward, loss, backward"),
    Binding("r", "run", "Run", tooltip="Run / pause — keep stepping, or pause"),
    # = and _ are + and - without shift: either press works, both read + / -.
    _hidden("plus,equals_sign", "faster", "Faster", "Run faster — next speed up to flat out", "+"),
    _hidden("minus,underscore", "slower", "Slower", "Run slower — next speed down to one step a second", "-"),
    Binding("b", "back", "Back", tooltip="Back one step — time travel: the state one step earlier"),
    Binding("g", "goto", "Go to", tooltip="Go to step… — jump to a step number (forward runs there)"),
    Binding("R", "reset", "Reset", tooltip="Reset — back to step 0 of the scenario"),
    _hidden("right_square_bracket,p", "point(1)", "Next point", "Next data point — show the next data point in the diagram"),
    _hidden("left_square_bracket", "point(-1)", "Previous point", "Previous data point — show the previous data point in the diagram"),
    _hidden("full_stop", "param(1)", "Next parameter", "Next parameter — explain the next parameter in the chain pane"),
    _hidden("comma", "param(-1)", "Previous parameter", "Previous parameter — explain the previous parameter in the chain pane"),
    _hidden("v", "diagram_mode", "Values/∂", "Diagram: values / gradients — the diagram's labels: both, values only, gradients only"),
    _hidden("l", "toggle_log", "Log", "Loss: log scale — toggle a logarithmic axis"),
    _hidden("f", "toggle_fit", "Fit", "Loss: fit view — data, the net's curve and its units' parts (one input); a heatmap (two)"),
    _hidden("u", "heatmap_unit", "Unit", "Heatmap: next unit — the output, then each hidden unit's own map"),
    _hidden("x", "step_axis", "Steps", "Loss: step axis — all steps, log steps, the recent steps"),
    Binding("c", "gradcheck", "Check", tooltip="Gradient check — backprop vs central differences (and your derivatives)"),
    Binding("w", "watches", "Watches", tooltip="Watches — breakpoints for a run: list, add, remove"),
    _hidden("e", "export", "Export", "Export worked example — this step and the selected parameter, as a Markdown file"),
    _hidden("E", "edit", "Edit", "Edit… — change α, a parameter, a data point, what trains or the optimizer (an event: b undoes it)"),
    _hidden("F", "fork", "Fork", "Fork… — a new run from this step with one change, its loss beside this one's"),
    _hidden("right_curly_bracket", "run_cycle(1)", "Next run", "Next run — make the next run the current one (its loss curve stays overlaid)"),
    _hidden("left_curly_bracket", "run_cycle(-1)", "Previous run", "Previous run — make the previous run the current one"),
    _hidden("ctrl+s", "save", "Save", "Save as scenario — write the current state (parameters, edits, watches) as a scenario file"),
    *(
        _hidden(str(n), f"pane({n})", title, f"{title} — show / focus {what}")
        for n, (_, title, what) in enumerate(PANES, start=1)
    ),
    _hidden("o", "cycle_pane", "Next pane", "Next pane — put the next pane beside the diagram (smaller terminals)"),
    _hidden("m", "maximize", "Maximize", "Maximize / restore — the focused pane fills the screen (esc restores)"),
    Binding("question_mark", "help", "Help", tooltip="Help — keys and panes explained"),
    Binding("q", "quit", "Quit", tooltip="Quit — leave bptui"),
]  # fmt: skip

#: Textual binds the palette itself; help and README list it with the rest.
PALETTE_ACTION = "command_palette"


def key_displays(action: str) -> list[str]:
    """How the keys of ``action`` read, in binding order (``s``, ``space``; ``ctrl+p``)."""
    if action == PALETTE_ACTION:
        keys = [App.COMMAND_PALETTE_BINDING]
    else:
        keys = [
            binding.key_display or key.strip()
            for binding in BINDINGS
            if binding.action == action
            for key in binding.key.split(",")
        ]
    if not keys:
        raise KeyError(f"no key is bound to {action!r}")
    shown: list[str] = []
    for key in keys:
        *modifiers, name = key.split("+")
        text = "+".join([*modifiers, format_key(name)])
        if text not in shown:
            shown.append(text)
    return shown


def keys_text(actions: tuple[str, ...]) -> str:
    """``\\`s\\` / \\`space\\```; a run of more than three keys as ``\\`1\\` … \\`5\\```."""
    shown = [f"`{key}`" for action in actions for key in key_displays(action)]
    if len(shown) > 3:
        return f"{shown[0]} … {shown[-1]}"
    return " / ".join(shown)


def palette_title_and_help(binding: Binding) -> tuple[str, str]:
    """The palette's (title, help) from the binding's tooltip, the keys appended."""
    title, _, what = (binding.tooltip or binding.description).partition(TITLE_SEPARATOR)
    keys = " / ".join(key_displays(binding.action))
    return title, f"{what[:1].upper()}{what[1:]} (key: {keys})"


def palette_entries() -> Iterator[tuple[str, str, str]]:
    """(action, title, help) for every bound action, once each, in BINDINGS order."""
    seen: set[str] = set()
    for binding in BINDINGS:
        if binding.action not in seen:
            seen.add(binding.action)
            yield (binding.action, *palette_title_and_help(binding))


@dataclass(frozen=True)
class KeyText:
    """Some actions' keys and the words that explain them.

    ``keys`` is how the key cell reads, ``{keys}`` standing for the actions'
    keys; ``{key:ACTION}`` in ``text`` stands for another action's keys.
    """

    actions: tuple[str, ...]
    text: str
    keys: str = "{keys}"

    def key_cell(self) -> str:
        return self.keys.format(keys=keys_text(self.actions))

    def words(self) -> str:
        text = self.text
        while "{key:" in text:
            start = text.index("{key:")
            end = text.index("}", start)
            text = text[:start] + keys_text((text[start + 5 : end],)) + text[end + 1 :]
        return text

    def mentioned(self) -> set[str]:
        """Every action whose keys this entry shows."""
        named = {part.split("}")[0] for part in self.text.split("{key:")[1:]}
        return set(self.actions) | named


def K(*actions: str, text: str, keys: str = "{keys}") -> KeyText:  # noqa: N802
    return KeyText(actions, text, keys)


#: The help screen's keys, one list item per entry (several on a line join with " · ").
HELP_LINES: tuple[tuple[KeyText, ...], ...] = (
    (
        K(
            "step",
            text="**step**: one whole gradient-descent step (or finish the step `n` started)",
        ),
    ),
    (
        K(
            "next_phase",
            text="**next phase**: update, forward layer by layer, loss, backward layer by layer",
        ),
    ),
    (K("run", text="**run / pause** (pauses within a tenth of a second)"),),
    (
        K(
            "faster",
            "slower",
            text="run **faster / slower**: 1, 2, 5, 10, 30, 100, 300, 1000 steps/s, flat out",
        ),
    ),
    (K("back", text="**back** one step (time travel; also the way out of a divergence)"),),
    (K("goto", text="**go to** a step number (forward: runs there)"),),
    (K("reset", text="**reset** to step 0"),),
    (
        K(
            "point(-1)",
            "point(1)",
            text="previous / next **data point** (the diagram shows its values)",
        ),
    ),
    (
        K(
            "toggle_log",
            "toggle_fit",
            text="loss pane: **log scale** / **fit** view (one input: the curve and each "
            "hidden unit's part; two inputs: a heatmap)",
        ),
    ),
    (
        K("heatmap_unit", text="heatmap: the output, then each hidden unit's own map"),
        K("step_axis", text="loss plot: all steps / log steps / the recent steps"),
    ),
    (
        K(
            "diagram_mode",
            text="diagram: **values and gradients** (∂Loss/∂node, ∂Loss/∂θ), values only, "
            "gradients only",
        ),
    ),
    (K("gradcheck", text="**gradient check**: backprop against finite differences at this step"),),
    (K("watches", text="**watches**: stop a run when a condition holds"),),
    (
        K(
            "export",
            text="**export** this step's worked example for the selected parameter (Markdown)",
        ),
    ),
    (
        K(
            "edit",
            text="**edit** α, a parameter (also enter on its row), a data point (enter on its "
            "row in the forward pane), what trains, the optimizer: an event, `b` steps back "
            "across it",
        ),
    ),
    (
        K("fork", text="**fork**: a new run from this step with one change"),
        K("run_cycle(-1)", "run_cycle(1)", text="previous / next **run**"),
    ),
    (K("save", text="**save** the current state as a scenario file"),),
    (
        K(
            "pane(1)",
            "pane(2)",
            "pane(3)",
            "pane(4)",
            "pane(5)",
            text="show / focus a pane: diagram, parameters, forward, chain, loss",
        ),
    ),
    (
        K("cycle_pane", text="next pane beside the diagram (smaller terminals)"),
        K("maximize", text="**maximize** / restore the focused pane"),
    ),
    (
        K(
            "param(-1)",
            "param(1)",
            keys="`↑` / `↓` in the parameters pane, or {keys} anywhere",
            text="the parameter the chain pane explains",
        ),
    ),
    (K(PALETTE_ACTION, text="command palette: every action by name"),),
    (K("help", text="this help"), K("quit", text="quit")),
)

#: The README's "### Keys" table, row by row.
README_ROWS: tuple[KeyText, ...] = (
    K("step", text="one whole gradient-descent step (finishes a partial one)"),
    K(
        "next_phase",
        text="next phase: update, forward layer by layer, loss, backward layer by layer",
    ),
    K(
        "run",
        text="run / pause; {key:faster} / {key:slower} change the speed (1 step/s … flat out)",
    ),
    K("back", text="back one step (time travel)"),
    K("goto", text="go to step N"),
    K("reset", text="reset to step 0"),
    K(
        "toggle_log",
        "toggle_fit",
        text="loss plot: log scale / fit view (the curve and each hidden unit's part; "
        "two inputs: a heatmap)",
    ),
    K("heatmap_unit", text="heatmap: the output, then each hidden unit"),
    K("step_axis", text="loss plot: all steps / log steps / the recent steps"),
    K("point(-1)", "point(1)", text="previous / next data point in the diagram"),
    K("diagram_mode", text="diagram: values and gradients / values / gradients"),
    K(
        "param(-1)",
        "param(1)",
        keys="{keys} (or `↑` `↓` in the parameters pane)",
        text="the parameter the chain pane explains",
    ),
    K(
        "pane(1)",
        "pane(2)",
        "pane(3)",
        "pane(4)",
        "pane(5)",
        text="show / focus a pane (five from 130×34, three from 100×30, else two)",
    ),
    K("cycle_pane", text="next pane beside the diagram (below 130×34)"),
    K("maximize", text="maximize / restore the focused pane"),
    K("gradcheck", text="gradient check (analytic vs central differences)"),
    K("watches", text="watches: stop the run when something happens"),
    K("export", text="export this step's worked example for the selected parameter (Markdown)"),
    K(
        "edit",
        text="edit α, a parameter, a data point, what trains or the optimizer "
        "(also enter on a row of the parameters or forward pane)",
    ),
    K("fork", text="fork: a new run from this step with one change, its loss curve overlaid"),
    K(
        "run_cycle(-1)",
        "run_cycle(1)",
        text="previous / next run (the current one steps, the one before it follows)",
    ),
    K("save", text="save the current state as a scenario file that reproduces it"),
    K("help", text="help: every pane and key, and the article's errata (`←` `→` pages)"),
    K(PALETTE_ACTION, text="command palette: every action by name"),
    K("quit", text="quit"),
)


def help_markdown() -> str:
    """The help screen's keys section: a Markdown list, one line per entry group."""
    lines = [
        "- " + " · ".join(f"{entry.key_cell()} — {entry.words()}" for entry in line)
        for line in HELP_LINES
    ]
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    """The README's keys table (paste it under "### Keys")."""
    rows = ["| key | action |", "| --- | --- |"]
    rows += [f"| {entry.key_cell()} | {entry.words()} |" for entry in README_ROWS]
    return "\n".join(rows) + "\n"
