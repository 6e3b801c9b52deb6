"""The edit dialog (``E``, enter on a pane's row, the palette) and the fork dialog (``F``).

The dialog changes one thing: the learning rate, a parameter's value (and
whether it trains), a data point's x or y, which parameters train, or the
optimizer and its settings.  It knows the fields and their current values
(:class:`EditChoices`, filled in by the app) but not the rules: it answers
with the :class:`Edit` list through ``dismiss`` and the app hands it to the
engine, which refuses a bad value with a message naming the field.  The app
then opens the dialog again with that message under the value, the text as
typed, so a refusal reads inline and nothing has changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Select, Static

#: The groups of the "what" list: engine edit kind → how the dialog names it.
KIND_LABELS: dict[str, str] = {
    "learning_rate": "learning rate α",
    "param": "a parameter's value",
    "x": "a data point's x",
    "y": "a data point's y",
    "trainable": "which parameters train",
    "optimizer": "the optimizer and its settings",
    "seed": "the random start (a fork only)",
}
#: What the value field takes, per kind (the hint under it).
KIND_HINTS: dict[str, str] = {
    "learning_rate": "a number > 0",
    "param": "a finite number",
    "x": "a finite number",
    "y": "a finite number (0 … 1 for a bce net)",
    "trainable": "the names that train, separated by commas (the rest are frozen ❄)",
    "optimizer": "optimizer: sgd, momentum, nesterov, rmsprop or adam; a setting: a number",
    "seed": "a whole number: step 0's weights drawn again with it, replayed to this step",
}


@dataclass(frozen=True)
class Edit:
    """One change, as the engine's ``edit(kind, name, new)`` takes it."""

    kind: str
    name: str
    new: object


@dataclass(frozen=True)
class Choice:
    """One editable field: the engine's name, how the dialog labels it, its value now."""

    name: str
    label: str
    current: str


@dataclass(frozen=True)
class EditChoices:
    """Every editable field, by kind, with its current value (the app reads the stepper)."""

    fields: dict[str, tuple[Choice, ...]]
    #: Names of the parameters that train now (the parameter page's checkbox).
    trainable: tuple[str, ...] = ()
    step: int = 0
    run_name: str = ""

    def current(self, kind: str, name: str) -> str:
        return next((c.current for c in self.fields.get(kind, ()) if c.name == name), "")

    def first_name(self, kind: str) -> str:
        choices = self.fields.get(kind, ())
        return choices[0].name if choices else ""


@dataclass
class EditStart:
    """Where the dialog opens: a field, the text in its value box, a refusal to show."""

    kind: str = "learning_rate"
    name: str = ""
    text: str | None = None
    error: str = ""
    trains: bool | None = None


def parse_value(kind: str, name: str, text: str) -> object:
    """The value typed, as the engine takes it: a float where it reads as one.

    Anything else (``abc``, an empty box) goes to the engine as typed, so its
    refusal names the field the same way for every bad value.  A trainable
    set is a list of names; the optimizer's name is text.
    """
    text = text.strip()
    if kind == "trainable":
        return [part for part in text.replace(",", " ").split() if part]
    if kind == "optimizer" and name == "optimizer":
        return text
    try:
        return float(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class EditAnswer:
    """The dialog's answer: the edits, and how to reopen it if the engine refuses one."""

    edits: tuple[Edit, ...]
    again: EditStart
    fork: bool = False


class EditScreen(ModalScreen[EditAnswer | None]):
    """Pick a field, type its new value; enter answers with the edits, escape with None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, choices: EditChoices, start: EditStart, *, fork: bool = False) -> None:
        super().__init__()
        self.choices = choices
        self.start = start
        self.fork = fork
        self._answered = False
        self._kind = start.kind if start.kind in choices.fields else "learning_rate"
        names = [c.name for c in choices.fields.get(self._kind, ())]
        self._name = start.name if start.name in names else choices.first_name(self._kind)

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        kinds = [(KIND_LABELS[k], k) for k in KIND_LABELS if self.choices.fields.get(k)]
        with Vertical(id="edit-box"):
            yield Static(self._title(), id="edit-title")
            with Horizontal(classes="edit-row"):
                yield Label("what ", classes="edit-label")
                yield Select(
                    kinds, value=self._kind, allow_blank=False, id="edit-kind", compact=True
                )
            with Horizontal(classes="edit-row", id="edit-which-row"):
                yield Label("which", classes="edit-label")
                yield Select(
                    self._name_options(self._kind),
                    value=self._name,
                    allow_blank=False,
                    id="edit-name",
                    compact=True,
                )
            with Horizontal(classes="edit-row"):
                yield Label("value", classes="edit-label")
                yield Input(value=self._start_text(), id="edit-value", compact=True)
            yield Checkbox("trains", value=self._trains(), id="edit-trains", compact=True)
            yield Label("", id="edit-message")
            yield Label(self._keys_hint(), id="edit-hint")

    def _title(self) -> str:
        where = f"step {self.choices.step}"
        if self.choices.run_name:
            where += f" of run {self.choices.run_name}"
        if self.fork:
            return f"Fork at {where}: a new run with one change (the current run stays)"
        return f"Edit at {where}: an event in the history (b steps back across it)"

    def _keys_hint(self) -> str:
        action = "fork" if self.fork else "apply"
        return f"enter: {action} · tab: next field · escape: cancel"

    def _name_options(self, kind: str) -> list[tuple[str, str]]:
        return [(c.label, c.name) for c in self.choices.fields.get(kind, ())]

    def _start_text(self) -> str:
        if self.start.text is not None:
            return self.start.text
        return self.choices.current(self._kind, self._name)

    def _trains(self) -> bool:
        if self.start.trains is not None:
            return self.start.trains
        return self._name in self.choices.trainable

    def on_mount(self) -> None:
        self._show_kind()
        if self.start.error:
            self._message(f"✗ {self.start.error}", error=True)
        else:
            self._message(self._now_text())
        self.query_one("#edit-value", Input).focus()

    def _show_kind(self) -> None:
        """The "which" list only where there is a choice, the checkbox only for a parameter."""
        single = len(self.choices.fields.get(self._kind, ())) <= 1
        self.query_one("#edit-which-row").display = not single
        trains = self.query_one("#edit-trains", Checkbox)
        trains.display = self._kind == "param" and not self.fork
        trains.label = f"{self._name} trains (unticked: frozen ❄)"

    def _now_text(self) -> str:
        current = self.choices.current(self._kind, self._name)
        return f"now {current} · {KIND_HINTS[self._kind]}"

    def _message(self, text: str, *, error: bool = False) -> None:
        label = self.query_one("#edit-message", Label)
        label.update(text)
        label.set_class(error, "-error")

    # ----------------------------------------------------------- choices
    @on(Select.Changed, "#edit-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        kind = str(event.value)
        if kind == self._kind:
            return
        self._kind = kind
        self._name = self.choices.first_name(kind)
        names = self.query_one("#edit-name", Select)
        names.set_options(self._name_options(kind))
        if self._name:
            names.value = self._name
        self._field_changed()

    @on(Select.Changed, "#edit-name")
    def _name_changed(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK or str(event.value) == self._name:
            return
        self._name = str(event.value)
        self._field_changed()

    def _field_changed(self) -> None:
        self.query_one("#edit-value", Input).value = self.choices.current(self._kind, self._name)
        self.query_one("#edit-trains", Checkbox).value = self._name in self.choices.trainable
        self._show_kind()
        self._message(self._now_text())

    # ------------------------------------------------------------ answer
    def edits(self) -> tuple[Edit, ...]:
        """What the form asks for: the value if it changed, then the trains flag if it did."""
        kind, name = self._kind, self._name
        text = self.query_one("#edit-value", Input).value
        found: list[Edit] = []
        if text.strip() != self.choices.current(kind, name).strip():
            found.append(Edit(kind, name, parse_value(kind, name, text)))
        trains = self.query_one("#edit-trains", Checkbox)
        if kind == "param" and trains.display and trains.value != (name in self.choices.trainable):
            keep = [n for n in self.choices.trainable if n != name]
            names = [*keep, name] if trains.value else keep
            found.append(Edit("trainable", "trainable", names))
        return tuple(found)

    def _again(self) -> EditStart:
        """How to reopen this dialog after a refusal: same field, same text (the app adds why)."""
        return EditStart(
            kind=self._kind,
            name=self._name,
            text=self.query_one("#edit-value", Input).value,
            trains=self.query_one("#edit-trains", Checkbox).value,
        )

    @on(Input.Submitted, "#edit-value")
    def submit(self) -> None:
        edits = self.edits()
        if not edits:
            self._message("nothing changed: type a new value (escape cancels)", error=True)
            return
        if self.fork and len(edits) > 1:
            self._message("a fork makes one change", error=True)
            return
        self._answer(EditAnswer(edits, self._again(), self.fork))

    def action_cancel(self) -> None:
        self._answer(None)

    def _answer(self, answer: EditAnswer | None) -> None:
        """Dismiss once (a second Enter queued behind the first finds the dialog gone)."""
        if self._answered:
            return
        self._answered = True
        self.dismiss(answer)
