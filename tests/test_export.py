"""``bptui export``: the worked example, its numbers, its arithmetic, worksheets and seeds.

Golden files pin whole documents; regenerate them with ``BPTUI_UPDATE_GOLDEN=1``
and read the diff before committing.  The other tests check that what the
document prints is true: known values of the article, and every printed
equation of numbers evaluated again.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bptui import cli
from bptui.debug import worked
from bptui.debug.worked import Blank, Equations, Table, exercise, export, worked_example
from bptui.scenario.loading import load_builtin

GOLDEN = Path(__file__).parent / "golden" / "export"
CASES = [("article", 0), ("article", 1), ("xor", 0)]
ARTICLE_PARAMS = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]


def article_md(step: int = 0, **options) -> str:
    text, key = export(load_builtin("article"), "md", step=step, **options)
    assert key is None
    return text


# --------------------------------------------------------------- golden files
@pytest.mark.parametrize("fmt", worked.FORMATS)
@pytest.mark.parametrize("name,step", CASES)
def test_golden(name: str, step: int, fmt: str) -> None:
    text, _ = export(load_builtin(name), fmt, step=step)
    path = GOLDEN / f"{name}_step{step}.{fmt}"
    if os.environ.get("BPTUI_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with BPTUI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


# ------------------------------------------------------- the article's numbers
def equation_lines(text: str) -> list[str]:
    """Every line of every aligned block: ``lhs &= side = side …``."""
    lines = []
    for block in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", text, re.S):
        lines += [line.removesuffix(" \\\\") for line in block.split("\n")]
    return lines


def last_number(line: str) -> float:
    return to_python_value(line.rsplit(" = ", 1)[1])


def to_python_value(side: str) -> float:
    value = evaluate(side)
    assert value is not None, side
    return value


def line_for(text: str, lhs: str, contains: str = "") -> list[str]:
    return [
        line for line in equation_lines(text) if line.split(" &", 1)[0] == lhs and contains in line
    ]


def close(printed: float, exact: float) -> bool:
    """Printed with six significant digits: equal to ``exact`` within half a unit of the last."""
    return abs(printed - exact) <= 5e-6 * abs(exact) + 1e-12


def test_article_loss_at_steps_0_and_1() -> None:
    for step, loss in ((0, 3.0667888), (1, 2.9817410)):
        (line,) = line_for(article_md(step), r"\text{Loss}", r"\ell_{1} +")
        assert close(last_number(line), loss), (step, line)


def test_article_outputs_gradient_and_update() -> None:
    text = article_md()
    outputs = [last_number(line) for line in line_for(text, r"\text{green}")]
    assert [round(v, 5) for v in outputs] == [1.51042, 1.54070, 1.56598]
    (grad,) = [
        line
        for line in line_for(text, r"\frac{\partial \text{Loss}}{\partial b_{3}}")
        if r"\sum" not in line
    ]
    assert close(last_number(grad), -1.7658128)
    (update,) = line_for(text, "b_{3}", r"\leftarrow")
    assert close(last_number(update), 0.0176581)
    assert "0 - 0.01 \\cdot ( -1.76581 ) = 0.0176581" in update


def test_article_default_is_all_seven_params_in_backward_order() -> None:
    text = article_md()
    headings = re.findall(
        r"^### \$\\frac\{\\partial \\text\{Loss\}\}\{\\partial (\w)_\{(\d)\}\}\$", text, re.M
    )
    assert ["".join(h) for h in headings] == ["b3", "w3", "w4", "b1", "w1", "b2", "w2"]
    assert sorted(ARTICLE_PARAMS) == sorted("".join(h) for h in headings)
    assert "works out" not in text


def test_big_net_defaults_to_first_weight_and_bias_and_says_so() -> None:
    text, _ = export(load_builtin("deep"), "md")
    headings = re.findall(r"^### .*\\partial (\w)_\{(\d+)\}\}\$$", text, re.M)
    assert ["".join(h) for h in headings] == ["w1", "b1"]
    assert "This network has 105 parameters; this document works out w1 and b1 only" in text


def test_param_chooses_and_keeps_order() -> None:
    text = article_md(params=["w1", "b3"])
    headings = re.findall(r"^### .*\\partial (\w)_\{(\d+)\}\}\$$", text, re.M)
    assert ["".join(h) for h in headings] == ["w1", "b3"]


# ------------------------------------------------------- printed arithmetic
FUNCTIONS = {
    "softplus": lambda z: math.log1p(math.exp(z)),
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "tanh": math.tanh,
    "log": math.log,
}


def evaluate(side: str) -> float | None:
    """A side made only of numbers, operators and known functions, evaluated; else None."""
    py = side.replace(r"\cdot", "*").replace(r"\times", "*")
    py = re.sub(r"\\operatorname\{(\w+)\}", r"\1", py)
    py = py.replace("}^{", ")**(").replace("{", "(").replace("}", ")")
    py = re.sub(r"(\d)\s*\(", r"\1*(", py)
    py = re.sub(r"10\^\(", "10**(", py)
    words = set(re.findall(r"[A-Za-z_\\]+", py)) - set(FUNCTIONS)
    if words or not re.search(r"\d", py):
        return None
    return float(eval(py, {"__builtins__": {}}, FUNCTIONS))  # noqa: S307 - our own digits


def numbers_in(side: str) -> list[float]:
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", side)]


def check_line(line: str) -> int:
    """Every all-number side of an equation equals its result; returns how many were checked."""
    sides = re.split(r" &= | &\\leftarrow | = ", line)
    result = evaluate(sides[-1])
    checked = 0
    for side in sides[1:-1]:
        value = evaluate(side)
        if value is None or result is None:
            continue
        scale = max([abs(result), *numbers_in(side)])
        assert abs(value - result) <= 2e-5 * scale + 1e-9, (line, side, value, result)
        checked += 1
    return checked


def test_the_arithmetic_checker_can_fail() -> None:
    with pytest.raises(AssertionError):
        check_line(r"x &= 0.5 \cdot 2 = 1.5")
    with pytest.raises(AssertionError):
        check_line(r"x &= \operatorname{softplus} ( 0 ) = 0.6")
    assert check_line(r"x &= {( 1.2 - 0.2 )}^{2} = 1.00000") == 1


@pytest.mark.parametrize("name,step", [("article", 0), ("article", 1), ("xor", 0), ("softmax3", 0)])
def test_every_printed_equation_is_true(name: str, step: int) -> None:
    text, _ = export(load_builtin(name), "md", step=step)
    lines = equation_lines(text)
    checked = sum(check_line(line) for line in lines)
    assert checked > 0.6 * len(lines), (checked, len(lines))


def test_b3_chain_arithmetic_line_by_line() -> None:
    text = article_md(params=["b3"])
    chain = text[text.index("## Gradients") : text.index("## Update")]
    products = [line for line in equation_lines(chain) if r"\cdot \frac" in line.split(" &")[0]]
    assert len(products) == 3
    for line in products:
        assert check_line(line) == 1
    (total,) = [line for line in equation_lines(chain) if " + " in line]
    assert check_line(total) == 1
    assert "0.620840 + ( -3.31861 ) + 0.931956 = -1.76581" in total


# ----------------------------------------------------------------- formats
def test_tex_is_a_standalone_document() -> None:
    text, _ = export(load_builtin("article"), "tex")
    assert text.startswith("\\documentclass{article}")
    assert "\\usepackage{amsmath}" in text and text.endswith("\\end{document}\n")
    assert text.count("\\begin{align*}") == text.count("\\end{align*}") > 10
    assert "−" not in text  # pdflatex has no U+2212: minus signs are math


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("options", [{}, {"as_exercise": True}])
def test_tex_compiles(tmp_path: Path, options: dict) -> None:
    text, _ = export(load_builtin("xor"), "tex", **options)
    (tmp_path / "doc.tex").write_text(text, encoding="utf-8")
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_html_is_standalone_mathml() -> None:
    text, _ = export(load_builtin("article"), "html")
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")
    assert "<script" not in text and "http" not in text  # works offline
    fragments = re.findall(r"<math.*?</math>", text, re.S)
    assert len(fragments) > 100
    for fragment in fragments:
        ET.fromstring(fragment)  # each formula is well-formed MathML
    assert "<mi>softplus</mi>" in text and "<mo>−</mo><mn>1.76581</mn>" in text


def test_markdown_escapes_node_names_in_math() -> None:
    text = article_md()
    assert r"z_{\text{blue}} &= w_{1} \cdot x + b_{1} = 0.496714 \cdot 0.1 + 0 = 0.0496714" in text
    assert r"\text{blue} &= \operatorname{softplus} ( z_{\text{blue}} ) = " in text
    assert "$x \\to \\text{blue}$" in text


def test_engine_products_get_brackets() -> None:
    """The engine writes (1 − h²)·x as ``1 − h1.1²·x1``; the document must not."""
    text, _ = export(load_builtin("softmax3"), "md", params=["w1"])
    assert r"( 1 - {\text{h1.1}}^{2} ) \cdot x_{1}" in text


# ---------------------------------------------------------------- exercises
def blanks_and_refs(doc) -> tuple[set[int], set[int]]:
    blanks, refs = set(), set()

    def walk(expr) -> None:
        for atom in expr:
            if isinstance(atom, Blank):
                (refs if atom.ref else blanks).add(atom.number)
            for inner in ("base", "exponent", "numerator", "denominator"):
                if hasattr(atom, inner):
                    walk(getattr(atom, inner))

    for block in doc.blocks:
        if isinstance(block, Equations):
            for line in block.lines:
                for side in line.sides:
                    walk(side)
    return blanks, refs


def test_exercise_blanks_computed_numbers_and_keeps_given_ones() -> None:
    sheet_text, key_text = export(
        load_builtin("article"), "md", as_exercise=True, separate_key=True
    )
    body = sheet_text
    for given in ("0.1", "0.53", "0.82", "1.2", "3.2", "1.1", "0.496714", "-0.138264", "0.01"):
        assert given in body, given
    for computed in ("0.0496714", "1.51042", "3.06679", "-1.76581", "0.0176581", "0.620840"):
        assert computed not in body, computed
        assert computed in key_text, computed
    assert r"\underline{\hspace{3em}}" in body


def test_answer_key_holds_every_blank_with_its_value() -> None:
    doc = worked_example(load_builtin("article"))
    sheet, key = exercise(doc)
    blanks, refs = blanks_and_refs(sheet)
    assert blanks and refs <= blanks
    (table,) = [b for b in key.blocks if isinstance(b, Table)]
    numbers = [row[0][0].number for row in table.rows]
    assert sorted(numbers) == sorted(blanks) == list(range(1, len(blanks) + 1))
    values = {row[0][0].number: row[3][0].value for row in table.rows}
    loss_rows = [r for r in table.rows if r[1] == (worked.LOSS,)]
    assert len(loss_rows) == 1 and close(round(loss_rows[0][3][0].value, 7), 3.0667888)
    assert all(math.isfinite(v) for v in values.values())


def test_exercise_to_stdout_appends_the_key_after_a_page_break(capsys) -> None:
    assert cli.main(["export", "--exercise"]) == 0
    out = capsys.readouterr().out
    sheet, key = out.split('<div style="page-break-after: always"></div>')
    assert "3.06679" not in sheet and "# Answer key" in key and "3.06679" in key


def test_exercise_output_writes_the_key_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "sheet.tex"
    assert (
        cli.main(["export", "xor", "--exercise", "--format", "tex", "--output", str(target)]) == 0
    )
    key = tmp_path / "sheet.answers.tex"
    assert target.exists() and key.exists()
    assert "Answer key" in key.read_text() and "Answer key" not in target.read_text()
    assert worked.answers_path("out/a.b.md") == "out/a.b.answers.md"


# -------------------------------------------------------------------- seeds
def data_table(text: str) -> str:
    return text[text.index("## The data") : text.index("## Forward pass")]


def params_table(text: str) -> str:
    return text[text.index("| parameter") : text.index("## The data")]


def test_seed_moves_the_data_deterministically() -> None:
    plain, one, again, two = (
        article_md(),
        article_md(seed=1),
        article_md(seed=1),
        article_md(seed=2),
    )
    assert one == again
    assert len({data_table(plain), data_table(one), data_table(two)}) == 3
    assert params_table(plain) == params_table(one) == params_table(two)
    assert "moved by seed 1" in one


def test_seed_keeps_class_labels() -> None:
    plain, moved = (export(load_builtin("xor"), "md", seed=s)[0] for s in (None, 4))
    column = lambda text: [row.split("|")[-2] for row in data_table(text).splitlines()[4:8]]  # noqa: E731
    assert column(plain) == column(moved) == [" $0$ ", " $1$ ", " $1$ ", " $0$ "]
    assert data_table(plain) != data_table(moved)


# ---------------------------------------------------------------- bad usage
def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["export", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_unknown_param_names_it_and_the_known_ones(capsys) -> None:
    code, out, err = run_cli(capsys, "--param", "w1", "w9")
    assert code == 2 and out == ""
    assert (
        err == "bptui: error: --param w9: no such parameter (known: w1, w2, w3, w4, b1, b2, b3)\n"
    )


def test_step_past_a_divergence_names_the_step(capsys) -> None:
    code, out, err = run_cli(capsys, "diverge", "--step", "100000")
    assert code == 2 and out == ""
    assert err.startswith("bptui: error: --step 100000: the run diverges at step ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "args,needle",
    [(["--format", "pdf"], "--format"), (["--step", "-1"], "--step"), (["--seed", "x"], "--seed")],
)
def test_bad_options_are_one_line(capsys, args: list[str], needle: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == "" and needle in err and len(err.splitlines()) == 1
