"""The reader reads what the author wrote (issue 8), and every equation on a line is checked.

For each reading rule: a wrong document that must not verify and a right one that must verify.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from symderiv.cli import main
from symderiv.documents.documents import DocumentBudget, check_text
from symderiv.documents.reader import ReadError

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

DECL = (r"Let $A \in \mathbf{R}^{n \times n}$, $B \in \mathbf{R}^{n \times n}$, $C \in \mathbf{R}^{n \times n}$, "
        r"$x \in \mathbf{R}^n$, $g \in \mathbf{R}^n$, $v \in \mathbf{R}^n$, $W \in \mathbf{R}^{n \times n}$, "
        r"$X \in \mathbf{R}^{n \times n}$, $L \in \mathbf{R}$.")


DOC_HEAD = f"# T\n\n{DECL}\n\n"


def doc(*math: str, decl: str = DECL):
    body = "\n\n".join(f"$${m}$$" for m in math)
    return check_text(f"# T\n\n{decl}\n\n{body}\n", "t.md")


def steps(d):
    return [s for s, _ in d.all_steps()]


def reasons(d) -> str:
    return " | ".join(s.verdict.reason for s in steps(d) if s.verdict is not None)


def assert_verified(d):
    assert steps(d) and d.status == "verified", [(s.line, s.status, s.verdict and s.verdict.reason) for s in steps(d)]


def assert_not_verified(d):
    assert d.status != "verified", [(s.line, s.status) for s in steps(d)]


# --- 1. juxtaposed letters ---------------------------------------------------------------------
@pytest.mark.parametrize("wrong", [r"AB^T = (AB)^T", r"gx^T = (g^T x)", r"XW = WX", r"AB^{\top} = (A B)^{T}"])
def test_juxtaposed_letters_wrong(wrong):
    assert_not_verified(doc(wrong))


@pytest.mark.parametrize("right", [r"AB^T = A B^T", r"gx^T = (x g^T)^T", r"XW = X W", r"AB^T = (B A^T)^T",
                                   r"ABC = A(BC)"])
def test_juxtaposed_letters_right(right):
    assert_verified(doc(right))


def test_declared_multi_letter_name_still_works():
    d = doc(r"xz + z = z + xz", decl=r"Let $xz \in \mathbf{R}^n$, $z \in \mathbf{R}^n$.")
    assert_verified(d)
    d = doc(r"xz = z", decl=r"Let $xz \in \mathbf{R}^n$, $z \in \mathbf{R}^n$.")
    assert_not_verified(d)


def test_declaring_a_product_is_a_shape_statement_not_a_new_symbol():
    decl = DECL + r" So $AB \in \mathbf{R}^{n \times n}$."
    assert_verified(doc(r"(AB)^T = B^T A^T", decl=decl))
    assert_not_verified(doc(r"AB^T = (AB)^T", decl=decl))
    e = read_error("# T\n\n" + DECL + r" So $Ax \in \mathbf{R}^{n \times n}$." + "\n\n$$x = x$$\n")
    assert e.line == 3 and "not n×n" in e.message


def test_unsplittable_run_names_the_run():
    d = doc(r"Aq = A")
    assert d.status == "failed" and "unknown symbol 'q'" in reasons(d)


def test_ambiguous_split_is_refused_with_position():
    d = doc(r"ab = b", decl=r"Let $a \in \mathbf{R}$, $b \in \mathbf{R}$, $ab := a$.")
    (s,) = steps(d)
    assert s.status == "failed" and "ambiguous" in s.verdict.reason
    assert s.line == 5 and s.col == 3


# --- 2. operators without parentheses --------------------------------------------------------------
@pytest.mark.parametrize("wrong", [r"\mathrm{tr} AB = \mathrm{tr}(A) B", r"\operatorname{tr} A B = \mathrm{tr}(A)",
                                   r"\mathrm{tr} AB = \mathrm{tr}(A)\mathrm{tr}(B)"])
def test_trace_scope_wrong(wrong):
    assert_not_verified(doc(wrong))


@pytest.mark.parametrize("right", [r"\mathrm{tr} AB = \mathrm{tr}(BA)", r"\operatorname{tr} A B = \mathrm{tr}(B A)",
                                   r"\mathrm{tr} AB + \mathrm{tr} C = \mathrm{tr}(BA) + \mathrm{tr}(C)",
                                   r"\mathrm{tr} A B C = \mathrm{tr}(C A B)"])
def test_trace_scope_right(right):
    assert_verified(doc(right))


# --- 3. norms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrong", [r"\|A\|^2 = A^T A", r"\|A\|_F^2 = \mathrm{tr}(A A A^T)", r"\|v\|^2 = 2 v^T v"])
def test_norm_wrong(wrong):
    assert_not_verified(doc(wrong))


@pytest.mark.parametrize("right", [r"\|A\|^2 = \mathrm{tr}(A^T A)", r"\|A\|_F^2 = \langle A, A \rangle",
                                   r"\|A\|^2_F = \mathrm{tr}(A A^T)", r"\|v\|^2 = v^T v", r"||v||^2 = \langle v, v \rangle"])
def test_norm_right(right):
    assert_verified(doc(right))


# --- 4. function application -------------------------------------------------------------------
@pytest.mark.parametrize("line", [r"f(x) = x", r"h(x) = x", r"\mathrm{foo}(x) = x"])
def test_unknown_function_application_is_refused(line):
    d = doc(line)
    assert d.status != "verified"
    assert "Function application is not supported yet" in reasons(d)


@pytest.mark.parametrize("line", [r"\sigma(x) = x", r"\operatorname{relu}(x) = x", r"\exp(x) = x",
                                  r"A \sigma(x) = A x", r"\mathrm{relu}(x) = x", r"\tanh(x) = x"])
def test_a_known_function_is_applied_never_multiplied(line):
    """σ(x), relu(x), exp(x) with σ not declared are entrywise functions: never σ·x."""
    d = doc(line)
    assert d.status == "failed", reasons(d)


@pytest.mark.parametrize("line", [r"\sigma(x) = \sigma(x)", r"A \sigma(x) = A (\sigma(x))",
                                  r"\operatorname{ReLU}(x) = x \odot \mathrm{step}(x)",
                                  r"\sigma'(x) = \sigma(x) \odot (\mathbf{1}_n - \sigma(x))",
                                  r"\sigma^{\prime}(x) = \sigma'(x)", r"\log(\exp(x)) = x",
                                  r"\sigma(A x)^T = \sigma(x^T A^T)"])
def test_known_functions_read_as_written(line):
    assert_verified(doc(line, decl=r"Let $x \in \mathbf{R}^n$, $A \in \mathbf{R}^{n \times n}$. "
                               r"<!-- symderiv: \odot = hadamard -->"))


def test_declared_scalar_with_function_name_before_parentheses_is_ambiguous():
    d = doc(r"\sigma(x) = \sigma x", decl=r"Let $\sigma \in \mathbf{R}$, $x \in \mathbf{R}^n$.")
    assert d.status == "failed" and "ambiguous" in reasons(d)


def test_declared_matrix_before_parentheses_is_a_product():
    assert_verified(doc(r"W(x + v) = Wx + Wv"))


# --- 6. every equation on a line ------------------------------------------------------------
LIN = r"Let $x \in \mathbf{R}^n$, $W \in \mathbf{R}^{n \times n}$, $y \in \mathbf{R}^n$, $L \in \mathbf{R}$."


def test_forward_chain_checks_later_equalities():
    assert_not_verified(doc(r"y = Wx = W^T x", decl=LIN))
    # the later equality is verified; the definition y = Wx itself, used by no derivation, is
    # reported as not checked (hunt2 08)
    d = doc(r"y = Wx = (x^T W^T)^T", decl=LIN)
    assert sorted(s.status for s in steps(d)) == ["undecided", "verified"]
    assert "no derivation uses it" in reasons(d)


def readoff_doc(readoff: str) -> str:
    return ("# T\n\n" + LIN + "\n\n$$y = Wx$$\n\n## Input gradient\n\n$$\\Delta y = W(x + \\Delta x) - Wx = W \\Delta x$$\n\n"
            "$$\\Delta L = \\langle \\frac{dL}{dy}, \\Delta y \\rangle = \\langle \\frac{dL}{dy}, W \\Delta x \\rangle "
            "= \\langle W^T \\frac{dL}{dy}, \\Delta x \\rangle$$\n\n" + f"$${readoff}$$\n")


def test_readoff_with_several_right_sides_checks_all():
    bad = check_text(readoff_doc(r"\Rightarrow \frac{dL}{dx} = W \frac{dL}{dy} = W^T \frac{dL}{dy}"), "t.md")
    assert bad.status == "failed"
    good = check_text(readoff_doc(r"\Rightarrow \frac{dL}{dx} = W^T \frac{dL}{dy} = (\frac{dL}{dy}^T W)^T"), "t.md")
    assert good.status == "verified", [(s.line, s.status) for s in steps(good)]
    assert sum(s.kind == "readoff" for s in steps(good)) == 2


def test_line_that_declares_and_asserts_checks_the_assertion():
    decl = r"Let $x \in \mathbf{R}^n$, $A \in \mathbf{R}^{n \times n}$."
    assert_not_verified(doc(r"s = x^T A x = 2 x^T A x \in \mathbf{R}", decl=decl))
    assert_verified(doc(r"s = x^T A x = x^T A^T x \in \mathbf{R}", decl=decl))


def test_equation_for_a_declared_variable_is_a_checked_claim():
    assert_not_verified(doc(r"A = A^T"))
    assert_not_verified(doc(r"y = Wx", r"x = W x", decl=LIN))
    assert_verified(doc(r"A = (A^T)^T"))


def test_alias_then_claim_is_checked():
    decl = DECL + r" Let $G := AB$."
    assert_not_verified(doc(r"G = BA", decl=decl))
    assert_verified(doc(r"G = A B", decl=decl))


# --- 7. declarations take effect from their line ---------------------------------------------
def test_later_redeclaration_does_not_change_earlier_lines_and_is_reported():
    text = ("# T\n\nLet $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$.\n\n"
            "$$AB = BA$$\n\nNow let $A \\in \\mathbf{R}$ and $B \\in \\mathbf{R}$.\n\n$$A B = B A$$\n")
    d = check_text(text, "t.md")
    by_line = {s.line: s for s in steps(d)}
    assert by_line[5].status == "failed"  # read with the n×n matrices in force on line 5
    assert by_line[9].status == "verified"  # scalars commute
    assert by_line[7].status == "failed" and "redefined" in by_line[7].verdict.reason


def test_alias_redefinition_keeps_earlier_reading():
    text = ("# T\n\n" + DECL + " Let $G := AB$.\n\n$$G = A B$$\n\nLet $G := BA$.\n\n$$G = B A$$\n")
    d = check_text(text, "t.md")
    by_line = {s.line: s for s in steps(d)}
    assert by_line[5].status == "verified" and by_line[9].status == "verified"
    assert by_line[7].status == "failed" and "redefined" in by_line[7].verdict.reason


# --- 8. exact claims; first order only in a chain or with \approx --------------------------------
def test_standalone_claim_is_exact():
    d = doc(r"(A + \Delta A)(A + \Delta A) - A A = A \Delta A + \Delta A A")
    assert d.status == "failed"
    assert "first order" in reasons(d)
    assert_verified(doc(r"(A + \Delta A)(A + \Delta A) - A A \approx A \Delta A + \Delta A A"))


def test_text_output_says_to_first_order(tmp_path, capsys):
    f = tmp_path / "q.md"
    f.write_text("# Q\n\nLet $x \\in \\mathbf{R}^n$, $A \\in \\mathbf{R}^{n \\times n}$, $q \\in \\mathbf{R}$.\n\n"
                 "$$q = x^T A x$$\n\n$$\\Delta q = (x + \\Delta x)^T A (x + \\Delta x) - x^T A x "
                 "= \\Delta x^T A x + x^T A \\Delta x$$\n", encoding="utf-8")
    assert main(["check", str(f)]) == 1  # no read-off: undecided overall
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if ":7:" in x and "x^T·A·Δx" in x)
    assert "(to first order)" in line


# --- 9. sections do not leak --------------------------------------------------------------------
def test_concatenated_course_checks_like_each_file(tmp_path, capsys):
    files = sorted((ROOT / "examples" / "course" / "derivations").glob("*.md"))
    whole = tmp_path / "all.md"
    whole.write_text("\n".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    assert main(["check", str(whole)]) == 0, capsys.readouterr()
    alone = [check_text(f.read_text(encoding="utf-8"), str(f)) for f in files]
    together = check_text(whole.read_text(encoding="utf-8"), str(whole))
    assert sum(len(d.derivations) for d in alone) == len(together.derivations)


def test_forward_definition_stays_in_its_section():
    text = ("# One\n\n" + LIN + "\n\n$$y = Wx$$\n\n# Two\n\n" + LIN + "\n\n"
            "$$\\Delta y = W(x + \\Delta x) - Wx$$\n")
    d = check_text(text, "t.md")
    assert not d.derivations and d.status == "failed"
    assert "needs a derivation" in reasons(d)


# --- 10. line endings; nothing checked is not verified ----------------------------------------------
WRONG = "# T\n\nLet $A \\in \\mathbf{R}^{n \\times n}$, $x \\in \\mathbf{R}^n$.\n\n$$A x = x$$\n"


@pytest.mark.parametrize("eol", ["\r", "\r\n"])
def test_cr_and_crlf_are_line_breaks(eol):
    d = check_text(WRONG.replace("\n", eol), "t.md")
    assert d.status == "failed" and [s.line for s in steps(d)] == [5]


@pytest.mark.parametrize("text,why", [("", "empty"), ("# Only a heading\n\nSome prose.\n", "no display math"),
                                      ("# T\n\n```\n$$x = x$$\n", "never closed"),
                                      ("# T\n\nLet $x \\in \\mathbf{R}^n$.\n\n$$y := x$$\n", "only declarations")])
def test_nothing_checked_is_not_verified(tmp_path, capsys, text, why):
    f = tmp_path / "e.md"
    f.write_text(text, encoding="utf-8")
    assert main(["check", str(f)]) == 1
    out = capsys.readouterr().out
    assert "nothing was found to check" in out and why in out and "— verified" not in out
    assert main(["check", "--format", "json", str(f)]) == 1
    payload = json.loads(capsys.readouterr().out)["files"][0]
    assert payload["status"] == "undecided" and why in payload["message"]


def test_bom_is_dropped():
    d = check_text("\ufeff" + WRONG, "t.md")
    assert d.blocks[0].kind == "heading" and d.status == "failed"


# --- 11. linear reading with a whole-document budget --------------------------------------------------
def test_document_budget_reports_the_rest_undecided():
    section = "\n## S\n\n$$2 W x - W x = W x$$\n"
    text = "# Big\n\n" + LIN + "\n" + section * 200
    d = check_text(text, "t.md", budget=DocumentBudget(math_chars=600, statements=1000))
    assert d.status == "undecided"
    cut = [s for s in steps(d) if "reading budget" in (s.verdict.reason or "")]
    assert len(cut) == 1 and cut[0].line > 5
    checked = [s for s in steps(d) if s.status == "verified"]
    assert 20 < len(checked) < 40
    d = check_text(text, "t.md", budget=DocumentBudget(math_chars=10**6, statements=50))
    assert d.status == "undecided"
    assert sum(s.status == "verified" for s in steps(d)) == 50
    assert "checked statements is used up" in reasons(d)


def test_moderately_large_document_completes_with_a_verdict():
    src = "\n".join(f.read_text(encoding="utf-8") for f in sorted((ROOT / "examples" / "course" / "derivations").glob("*.md")))
    d = check_text(src * 8, "big.md")
    assert d.status == "verified" and len(d.derivations) == 8 * 28


# --- 12. located errors instead of crashes ------------------------------------------------------------------
@dataclass
class LineFailure:
    line: int
    col: int
    message: str


def read_error(text: str) -> LineFailure:
    """The first line that could not be read, with its position: a failed step (issue 11: one line that
    cannot be read fails there, and the rest of the document is still checked), or, for what makes the
    whole file unreadable (an unbalanced $, an operator definition), the ReadError; never a crash."""
    try:
        d = check_text(text, "t.md")
    except ReadError as exc:
        return LineFailure(exc.line, exc.col, exc.message)
    assert d.status == "failed"
    bad = [s for s, _ in d.all_steps() if s.status == "failed" and s.kind == "problem"]
    assert bad, [(s.line, s.verdict.reason) for s, _ in d.all_steps()]
    return LineFailure(bad[0].line, bad[0].col, bad[0].verdict.reason)


def test_space_with_juxtaposed_dimensions_is_located():
    e = read_error("# T\n\nLet $x \\in \\mathbf{R}^{m n}$.\n\n$$x = x$$\n")
    assert (e.line, e.col) == (3, 12) and "\\times" in e.message


@pytest.mark.parametrize("dim", ["{oo}", "{inf}", "{n \\times inf}", "oo", "inf"])
def test_reserved_dimension_names_are_refused(dim):
    e = read_error(f"# T\n\nLet $x \\in \\mathbf{{R}}^{dim}$.\n\n$$x = x$$\n")
    assert e.line == 3
    if dim.startswith("{"):
        assert "cannot name a dimension" in e.message
    # unbraced, TeX's superscript is one letter (R^oo is R^o o): refused as a malformed space


def test_derivative_with_respect_to_an_alias_is_a_located_line_error():
    d = check_text("# T\n\nLet $y \\in \\mathbf{R}^n$, $L \\in \\mathbf{R}$, $dy := \\frac{dL}{dy} \\in \\mathbf{R}^n$.\n\n"
                   "$$\\frac{dL}{ddy} = dy$$\n", "t.md")
    (s,) = steps(d)
    assert s.status == "failed" and s.line == 5 and "not a declared variable" in s.verdict.reason


def test_redeclared_symbol_then_shape_mismatch_is_a_failed_line(tmp_path, capsys):
    f = tmp_path / "r.md"
    f.write_text("# T\n\nLet $x \\in \\mathbf{R}^n$, $W \\in \\mathbf{R}^{m \\times n}$, $y \\in \\mathbf{R}^m$.\n\n"
                 "$$y = Wx$$\n\n## Sub\n\nLet $x \\in \\mathbf{R}^m$.\n\n$$\\Delta y = W(x + \\Delta x) - Wx$$\n",
                 encoding="utf-8")
    assert main(["check", str(f)]) == 1
    assert ":11:" in capsys.readouterr().out


def test_scalar_times_inner_product_is_checked():
    d = doc(r"L \langle x, v \rangle = \langle v, x \rangle L")
    assert_verified(d)
    assert_not_verified(doc(r"L \langle x, v \rangle = \langle v, x \rangle"))


def test_unbalanced_dollar_in_prose_is_reported_where_it_stands():
    e = read_error("# T\n\nLet $x \\in \\mathbf{R}^n$ cost $5 and $y \\in \\mathbf{R}^n$.\n\n$$x = y$$\n")
    assert e.line == 3 and e.col == 57 and "unbalanced '$'" in e.message
    d = check_text("# T\n\nLet $x \\in \\mathbf{R}^n$ cost \\$5, `$` in code.\n\n$$x = x$$\n", "t.md")
    assert_verified(d)


@pytest.mark.parametrize("math", [" + ".join(["x"] * 490) + " = x", " ".join(["L"] * 495) + " = L"])
def test_long_sums_and_products_give_a_located_answer(math):
    d = doc(math)
    (s,) = steps(d)
    assert s.line == 5 and s.status != "verified"


def test_no_internal_error_on_the_issue_documents(tmp_path, capsys):
    texts = [
        "# T\n\nLet $y \\in \\mathbf{R}^n$, $L \\in \\mathbf{R}$.\n\n$$L \\langle y, y \\rangle = \\langle y, y \\rangle L$$\n",
        "# T\n\nLet $x \\in \\mathbf{R}^{m n}$.\n\n$$x = x$$\n",
        "# T\n\n" + DECL + "\n\n$$" + " + ".join(["A"] * 490) + " = A$$\n",
    ]
    for i, t in enumerate(texts):
        f = tmp_path / f"d{i}.md"
        f.write_text(t, encoding="utf-8")
        main(["check", str(f)])
        cap = capsys.readouterr()
        assert "internal error" not in cap.err + cap.out


def test_pytest_plugin_fails_a_document_with_nothing_to_check(pytester):
    import importlib.metadata

    eps = importlib.metadata.entry_points(group="pytest11")
    args = [] if any(ep.value == "symderiv.pytest_plugin" for ep in eps) else ["-p", "symderiv.pytest_plugin"]
    pytester.makeini("[pytest]\nsymderiv_documents = *.md\n")
    (pytester.path / "empty.md").write_text("# Only a heading\n\nProse.\n", encoding="utf-8")
    (pytester.path / "mac.md").write_text(WRONG.replace("\n", "\r"), encoding="utf-8")
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "nothing was found to check" in out and "mac.md:5" in out


def test_fraction_of_an_expression_is_a_scalar_multiple():
    assert_verified(doc(r"\frac{A + A^T}{2} x = \frac{1}{2}(A x + A^T x)"))
    assert_not_verified(doc(r"\frac{A B}{2} = \frac{1}{2} B A"))


def test_juxtaposition_binds_tighter_than_cdot():
    assert_verified(doc(r"x \cdot A v = x^T A v"))
    assert_not_verified(doc(r"x \cdot A v = v^T A x"))


def test_read_off_after_implication_on_the_same_line():
    line = (r"\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle W^T \frac{dL}{dy}, \Delta x \rangle "
            r"\Rightarrow \frac{dL}{dx} = W{} \frac{dL}{dy}")
    text = ("# T\n\n" + LIN + "\n\n$$y = Wx$$\n\n$$\\Delta y = W(x + \\Delta x) - Wx = W \\Delta x$$\n\n$$" + line + "$$\n")
    assert check_text(text.replace("W{}", "W^T"), "t.md").status == "verified"
    assert check_text(text.replace("W{}", "W"), "t.md").status == "failed"


def test_perturbation_and_read_off_on_one_line_start_a_derivation():
    """ΔL ≈ ⟨x − t, Δx⟩ ⇒ dL/dx = x − t right after L's definition is the perturbation line and the
    read-off, each checked: the exact '=' fails (½‖Δx‖² is left), a wrong read-off fails, and an
    implication whose left part perturbs nothing defined stays unchecked."""
    head = "# T\n\nLet $x \\in \\mathbf{R}^n$, $t \\in \\mathbf{R}^n$ and $L \\in \\mathbf{R}$.\n\n"
    defn = "$$L = \\frac{1}{2} \\|x - t\\|^2$$\n\n"
    line = "$$\\Delta L REL \\langle x - t, \\Delta x \\rangle \\Rightarrow \\frac{dL}{dx} = G$$\n"

    def run(rel: str, g: str, with_definition: bool = True):
        return check_text(head + (defn if with_definition else "") + line.replace("REL", rel).replace("G", g), "t.md")

    right = run("\\approx", "x - t")
    assert right.status == "verified" and len(right.derivations) == 1
    assert [s.kind for s in right.derivations[0].steps][-1] == "readoff"
    assert [s.line for s, _ in right.all_steps() if s.status == "failed"] == []
    exact = run("=", "x - t")
    assert exact.status == "failed" and [s.line for s, _ in exact.all_steps() if s.status == "failed"] == [7]
    wrong = run("\\approx", "x + t")
    assert wrong.status == "failed" and [s.line for s, _ in wrong.all_steps() if s.status == "failed"] == [7]
    orphan = run("\\approx", "x - t", with_definition=False)
    assert orphan.status != "verified" and not orphan.derivations


def test_implication_between_equations_is_not_checked_as_a_chain():
    d = doc(r"AB = BA \Rightarrow BA = AB")
    (s,) = steps(d)
    assert s.status == "undecided" and "implication" in s.verdict.reason


def test_continuation_row_joins_the_previous_row():
    body = "\\begin{aligned}\n(A + B - C)^T &= A^T + B^T \\\\\n&\\quad {} C^T\n\\end{aligned}"
    right = check_text(f"# T\n\n{DECL}\n\n$${body.replace('{}', '-')}$$\n", "t.md")
    assert right.status == "verified"
    wrong = check_text(f"# T\n\n{DECL}\n\n$${body.replace('{}', '+')}$$\n", "t.md")
    assert wrong.status == "failed"


@pytest.mark.parametrize("inline", [r"$AB = BA$", r"$s = x^T A x = 2 x^T A x \in \mathbf{R}$"])
def test_inline_equations_are_reported_not_checked(inline):
    d = check_text(f"# T\n\n{DECL}\n\nNote that {inline} here.\n\n$$A = A$$\n", "t.md")
    assert d.status == "undecided"
    (s,) = [s for s in steps(d) if s.line == 5]
    assert "inline math is not checked" in s.verdict.reason and s.col == 12  # the math after the $


def test_inline_declarations_are_not_assertions():
    d = check_text("# T\n\nLet $x \\in \\mathbf{R}^n$, $y \\in \\mathbf{R}^n$, $L \\in \\mathbf{R}$, "
                   "$dy := \\frac{dL}{dy} \\in \\mathbf{R}^n$.\n\n$$x = x$$\n", "t.md")
    assert_verified(d)


def test_note_columns_and_word_notes_stay_notes():
    body = ("\\begin{aligned}\n(AB)^T &= B^T A^T && \\text{transpose of a product} \\\\\n"
            "&= B^T A^T \\text{expansion}\n\\end{aligned}")
    d = check_text(f"# T\n\n{DECL}\n\n$${body}$$\n", "t.md")
    assert_verified(d)
    assert len(steps(d)) == 2


def test_operator_definition_with_unreadable_index_is_located():
    e = read_error("# T\n\nLet $x \\in \\mathbf{R}^{\\infty}$, $w \\in \\mathbf{R}^{\\infty}$, $y \\in \\mathbf{R}^{\\infty}$.\n\n"
                   "$$y = x \\odot w$$\n$$y_i := \\sum_j x_{i+j} w_{(j)^T}$$\n")
    assert e.line == 6 and "indices of this operator definition" in e.message


def test_correlation_definition_must_shift_the_left_operand():
    head = ("# T\n\n<!-- symderiv: \\otimes = convolution -->\n\nLet $x \\in \\mathbf{R}^{\\infty}$, "
            "$w \\in \\mathbf{R}^{\\infty}$, $y \\in \\mathbf{R}^{\\infty}$, $g \\in \\mathbf{R}^{\\infty}$.\n\n$$y = x \\odot w$$\n")
    e = read_error(head + "$$y_i := \\sum_j w_{i+j} x_j$$\n\n$$\\langle x \\odot w, g \\rangle = \\langle x, g \\otimes w \\rangle$$\n")
    assert e.line == 8 and "shifts w" in e.message
    d = check_text(head + "$$y_i := \\sum_j x_{i+j} w_j$$\n\n$$\\langle x \\odot w, g \\rangle = \\langle x, g \\otimes w \\rangle$$\n", "t.md")
    assert d.status == "verified"  # Σ_i g_i Σ_j x_{i+j} w_j = Σ_k x_k (g ⊗ w)_k


def test_dollar_after_an_escaped_backslash_delimits_math_and_reports_split_the_same_way():
    r"""``\$`` is a dollar sign, ``\\$`` a line break then a delimiter; the checker and the reports read
    the same spans, so a report never typesets as math what was not read as math."""
    from symderiv.documents.reader import inline_math_spans
    from symderiv.report.render import _prose

    line = r"a price of \$5, then $x \\$ and `$code$` and $y$"
    spans = [line[a:b] for a, b in inline_math_spans(line)]
    assert spans == [r"x \\", "y"]
    seen = []
    _prose(line, lambda t: t, lambda m: seen.append(m) or m)
    assert seen == spans


SELF_DEFINED = r"""# Corr

Here $\odot$ is correlation, $(u \odot v)_i = \sum_j u_{i+j} v_j$, and $(u \otimes v)_i := \sum_j u_{i-j} v_j$.

Let $u \in \mathbf{R}^{\infty}$, $v \in \mathbf{R}^{\infty}$, $t \in \mathbf{R}^{\infty}$.

$$\langle u \odot v, t \rangle = \langle u, t \otimes v \rangle$$

$$u \odot v = v \odot u$$
"""


def test_an_operator_defined_by_its_own_index_formula_in_prose_means_that():
    d = check_text(SELF_DEFINED, "self.md")
    by_line = {s.line: s.status for c in d.claims for s in c.steps}
    assert by_line == {7: "verified", 9: "failed"}  # correlation does not commute; the definition is no claim


def test_a_second_section_defining_an_operator_differently_is_refused_not_read_with_the_first_meaning():
    text = (r"""# One

<!-- symderiv: \odot = convolution -->

Let $x \in \mathbf{R}^{\infty}$, $w \in \mathbf{R}^{\infty}$.

$$x \odot w = w \odot x$$

# Two

Here $\odot$ is correlation, $(u \odot v)_i = \sum_j u_{i+j} v_j$.

Let $u \in \mathbf{R}^{\infty}$, $v \in \mathbf{R}^{\infty}$.

$$u \odot v = v \odot u$$
""")
    with pytest.raises(ReadError) as e:
        check_text(text, "two.md")
    assert e.value.line == 11 and "already defined" in e.value.message


def test_a_report_of_a_document_with_nothing_to_check_says_why(tmp_path):
    from symderiv.documents.documents import check_file
    from symderiv.report.render import render_documents

    p = tmp_path / "empty.md"
    p.write_text("# Only a heading\n\nSome prose.\n", encoding="utf-8")
    doc = check_file(str(p))
    for fmt in ("md", "tex"):
        out = render_documents([doc], fmt)
        assert "nothing was found to check" in out and "undecided" in out


# --- hunt 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrong", [r"\|A\|^2_2 = \langle A, A \rangle", r"\|A\|^{2}_{2} = \langle A, A \rangle",
                                   r"\left\|A\right\|^2_2 = \langle A, A \rangle", r"\|A\|_2^2 = \langle A, A \rangle"])
def test_h2_01_subscript_2_of_a_matrix_norm_is_never_frobenius_whatever_the_order(wrong):
    d = doc(wrong)
    assert_not_verified(d)
    assert "only the Frobenius norm" in reasons(d) and "not _2" in reasons(d)


@pytest.mark.parametrize("right", [r"\|A\|^2_F = \langle A, A \rangle", r"\|A\|_F^2 = \langle A, A \rangle",
                                   r"\|x\|^2_2 = x^T x", r"\|x\|_2^2 = x^T x"])
def test_h2_01_frobenius_and_vector_2_norm_in_either_order(right):
    assert_verified(doc(right))


@pytest.mark.parametrize("gap", ["~~~", r"\;\;\;", r"\ \ \ ", r"\,\,", r"\:\:", r"\, \,", "~~"])
def test_h2_03_a_run_of_small_spaces_between_expressions_is_refused(gap):
    e = read_error(DOC_HEAD + f"$$AB = A {gap} B = AB$$\n")
    assert e.line == 5 and e.col == 10  # where the run starts
    assert "run of small spaces" in e.message and "\\quad" in e.message


@pytest.mark.parametrize("right", [r"AB = A\,B", r"(AB)^T = B^T A^T \quad (BA)^T = A^T B^T", r"AB = A~B",
                                   r"AB = AB \,\,"])
def test_h2_03_a_single_small_space_is_a_product_and_quad_separates(right):
    assert_verified(doc(right))


@pytest.mark.parametrize("math", [r"\begin{array}{cc} AB = A & B = AB \end{array}",
                                  r"\begin{array}{c} AB = AB \end{array}"])
def test_h2_21_the_array_environment_is_refused_where_it_stands(math):
    e = read_error(DOC_HEAD + f"$${math}$$\n")
    assert (e.line, e.col) == (5, 3)
    assert "array environment" in e.message and "aligned" in e.message


def test_h2_21_aligned_cells_still_read():
    assert_verified(doc(r"\begin{aligned} (AB)^T &= B^T A^T \\ (BA)^T &= A^T B^T \end{aligned}"))


@pytest.mark.parametrize("right", [r"\mathrm{tr}(A)^T B = B \, \mathrm{tr}(A)",
                                   r"\mathrm{tr}(A)^2 = \mathrm{tr}(A)\,\mathrm{tr}(A)",
                                   r"tr(A)^2 = tr(A) tr(A)", r"B \, \mathrm{tr}(A)^T = \mathrm{tr}(A^T) B",
                                   r"\operatorname{tr}(AB)^T = \mathrm{tr}(B^T A^T)"])
def test_h2_10_a_superscript_after_tr_of_a_parenthesis_applies_to_the_trace(right):
    assert_verified(doc(right))


@pytest.mark.parametrize("wrong", [r"\mathrm{tr}(A)^T B = \mathrm{tr}(A^T B)", r"tr(A)^2 = tr(A A)",
                                   r"\mathrm{tr}(A)^T = A"])
def test_h2_10_the_superscript_never_moves_inside_the_trace(wrong):
    assert_not_verified(doc(wrong))


@pytest.mark.parametrize("wrong", [r"\Delta AB = \Delta A \, B", r"\Delta AB = (\Delta A) B"])
def test_h2_18_delta_before_a_run_of_names_is_refused_outside_a_derivation_of_its_first_name(wrong):
    d = doc(wrong)
    assert_not_verified(d)
    assert "ambiguous: '\\Delta AB'" in reasons(d) and "\\Delta(AB)" in reasons(d)


def test_h2_18_delta_run_of_the_perturbed_variable_is_its_perturbation():
    # y = Wx perturbed in W (x fixed): Δ(Wx) and (ΔW)x agree, so the run is read
    text = (f"# Layer\n\n{DECL}\n\n$$y = Wx$$\n\n$$\\Delta y = (W + \\Delta W)x - Wx = \\Delta Wx$$\n\n"
            "$$\\Delta L = \\langle \\frac{dL}{dy}, \\Delta y \\rangle = \\langle \\frac{dL}{dy}, \\Delta Wx \\rangle$$\n")
    decl = DECL + r" Let $y \in \mathbf{R}^n$."
    d = check_text(text.replace(DECL, decl), "t.md")
    assert len(steps(d)) == 4 and all(s.status == "verified" for s in steps(d))  # no read-off yet


def test_h2_18_delta_run_whose_rest_is_perturbed_is_refused():
    # Y = AA perturbed in A: Δ(AA) = (ΔA)A + A(ΔA) + ..., not (ΔA)A
    decl = DECL + r" Let $Y \in \mathbf{R}^{n \times n}$."
    text = (f"# Layer\n\n{decl}\n\n$$Y = AA$$\n\n$$\\Delta Y = (A + \\Delta A)A - AA = \\Delta AA$$\n")
    d = check_text(text, "t.md")
    assert_not_verified(d)
    assert "ambiguous: '\\Delta AA'" in reasons(d)


TR_DECL = DECL + r" Let $t \in \mathbf{R}$, $r \in \mathbf{R}$."


@pytest.mark.parametrize("wrong", [r"tr(A) = tr(A^T)", r"tr A = tr A^T"])
def test_h2_11_bare_tr_with_t_and_r_declared_is_refused(wrong):
    d = doc(wrong, decl=TR_DECL)
    assert_not_verified(d)
    assert "ambiguous: 'tr' can be read as the trace or as the product t·r" in reasons(d)


@pytest.mark.parametrize("right", [r"\mathrm{tr}(A) = \mathrm{tr}(A^T)", r"t r A = r t A"])
def test_h2_11_roman_tr_is_the_trace_and_spaced_t_r_a_product(right):
    assert_verified(doc(right, decl=TR_DECL))


def test_h2_11_bare_tr_without_t_and_r_is_the_trace():
    assert_verified(doc(r"tr(A) = tr(A^T)"))


DIV_DECL = DECL + r" Let $s \in \mathbf{R}$, $t \in \mathbf{R}$."


@pytest.mark.parametrize("wrong", [r"t/2s = \frac{1}{2} t s", r"1/2s = \frac{1}{2} s", r"1/2A = \frac{1}{2} A",
                                   r"t/2 \, s = \frac{1}{2} t s", r"1/2 t s = \frac{1}{2} t s"])
def test_h2_16_a_factor_juxtaposed_after_a_division_is_refused(wrong):
    d = doc(wrong, decl=DIV_DECL)
    assert_not_verified(d)
    assert "ambiguous: a factor written right after a/b" in reasons(d) and "\\frac" in reasons(d)


def test_h2_16_division_by_a_run_of_names_is_refused():
    d = doc(r"s/ts = 1", decl=DIV_DECL)
    assert_not_verified(d)
    assert "ambiguous: a factor written right after a/b" in reasons(d)


@pytest.mark.parametrize("right", [r"t/2 = \frac{1}{2} t", r"1/2(x + v)^T = \frac{1}{2} (x^T + v^T)",
                                   r"\frac{t}{2} s = \frac{1}{2} t s"])
def test_h2_16_plain_division_and_division_before_a_vector_still_read(right):
    assert_verified(doc(right, decl=DIV_DECL))


@pytest.mark.parametrize("wrong", [r"W_12 = 2 W_1", r"A2 = 2A", r"A 2 = 2A", r"(A + B)2 = 2A + 2B"])
def test_h2_04_a_number_after_a_factor_is_refused(wrong):
    decl = DECL + r" Let $W_{12} \in \mathbf{R}^{n \times n}$, $W_1 \in \mathbf{R}^{n \times n}$."
    d = doc(wrong, decl=decl)
    assert_not_verified(d)
    assert "ambiguous: a number written after a factor" in reasons(d) and "W_{12}" in reasons(d)


@pytest.mark.parametrize("right", [r"2A = A + A", r"W_{12} = W_{12}"])
def test_h2_04_coefficient_first_and_braced_subscripts_still_read(right):
    decl = DECL + r" Let $W_{12} \in \mathbf{R}^{n \times n}$."
    assert_verified(doc(right, decl=decl))


def test_h2_04_a_number_after_a_sum_sign_is_its_summand():
    d = doc(r"\sum_j 2 x_j = 2 \sum_j x_j")
    assert steps(d) and "number written after" not in reasons(d)


SUB_DECL = (r"Let $\lambda_1 \in \mathbf{R}$, $W \in \mathbf{R}^{n \times n}$, $W_1 \in \mathbf{R}^{n \times n}$, "
            r"$A \in \mathbf{R}^{n \times n}$, $x \in \mathbf{R}^n$, $x_1 \in \mathbf{R}^n$.")


@pytest.mark.parametrize("right", [r"\lambda_1 W = W \lambda_1", r"W^T_1 = W_1^T", r"x^T_1 x = x_1^T x",
                                   r"AW^T_1 = A W_1^T", r"W^{\top}_1 A = (A^T W_1)^T"])
def test_h2_19_declared_subscripted_names_in_either_script_order(right):
    assert_verified(doc(right, decl=SUB_DECL))


@pytest.mark.parametrize("wrong", [r"W^T_1 = W_1", r"AW^T_1 = W_1^T A", r"\lambda_1 W = W"])
def test_h2_19_declared_subscripted_names_wrong(wrong):
    assert_not_verified(doc(wrong, decl=SUB_DECL))


@pytest.mark.parametrize("right", [r"\|A\|_{\mathrm{F}}^2 = \|A\|_F^2", r"\|A\|^2_{\mathrm{F}} = \langle A, A \rangle"])
def test_h2_06_mathrm_f_is_the_frobenius_norm(right):
    assert_verified(doc(right))


def test_h2_06_an_unsupported_norm_subscript_is_named_as_written():
    d = doc(r"\|A\|_{\mathrm{op}}^2 = \langle A, A \rangle")
    assert_not_verified(d)
    assert "not _{\\mathrm{op}}" in reasons(d) and "None" not in reasons(d)


def test_h2_20_a_row_in_the_alignment_column_without_relation_continues_the_product():
    assert_verified(doc(r"\begin{aligned} (AB)^T &= B^T \\ &\quad A^T \end{aligned}"))
    d = doc(r"\begin{aligned} (AB)^T &= B^T \\ &\quad B^T \end{aligned}")
    assert_not_verified(d)
    assert "(A·B)^T - B^T\n" not in reasons(d) and "single expression" not in reasons(d)


@pytest.mark.parametrize("conditional", [r"AB = BA \quad \text{if } B = A", r"AB = BA \text{ for $B = A$}",
                                         r"AB = BA \quad \text{whenever } B = A", r"AB = BA \quad \text{for } B = A"])
def test_h2_22_an_equation_under_a_stated_condition_is_undecided_not_refuted(conditional):
    d = doc(conditional)
    assert d.status == "undecided"
    assert "is not assumed" in reasons(d) and "B = A" in reasons(d)


def test_h2_22_a_note_without_a_relation_is_not_a_condition():
    assert_verified(doc(r"(AB)^T = B^T A^T \quad \text{for all } n"))


# --- second hunt: the Markdown scanner ---------------------------------------------------------
H2_DECL = r"Let $A \in \mathbf{R}^{n \times n}$, $B \in \mathbf{R}^{n \times n}$."


def h2(body: str):
    return check_text(f"{H2_DECL}\n\n{body}\n", "t.md")


def lines_of(d) -> dict[int, str]:
    return {s.line: s.status for s in steps(d)}


@pytest.mark.parametrize("closer", ["``` end of output", "    ```", "``", "~~~"])
def test_a_fence_is_closed_only_by_a_bare_fence_of_its_kind(closer):
    # CommonMark: "``` text", a ``` indented 4 spaces, a shorter fence or the other character do not
    # close the block, so the display after them is code and the real claim after the closer is read
    d = h2(f"```text\nout\n{closer}\n$$(AB)^T = B^T A^T$$\n```\n\n$$AB = BA$$")
    assert lines_of(d) == {9: "failed"}


def test_a_long_fence_needs_a_long_closer():
    d = h2("````\n```\n$$(AB)^T = B^T A^T$$\n````\n\n$$AB = BA$$")
    assert lines_of(d) == {8: "failed"}
    assert_verified(h2("~~~\nx\n~~~ \n\n$$(AB)^T = B^T A^T$$"))


@pytest.mark.parametrize("env", ["multline", "multline*", "eqnarray", "eqnarray*"])
def test_multline_and_eqnarray_are_read(env):
    rel = "&=&" if env.startswith("eqnarray") else "="
    d = h2(f"\\begin{{{env}}}\nAB {rel} BA\n\\end{{{env}}}")
    assert lines_of(d) == {4: "failed"}
    brk = "" if env.startswith("eqnarray") else " \\\\\n"  # multline: one equation over two lines
    assert_verified(h2(f"\\begin{{{env}}}\n(AB)^T{brk} {rel} B^T A^T\n\\end{{{env}}}"))


def test_eqnarray_rows_chain_like_align():
    d = h2("\\begin{eqnarray}\n(A + B)^T &=& A^T + B^T \\\\\n&=& B^T A^T\n\\end{eqnarray}")
    assert lines_of(d) == {4: "verified", 5: "failed"}


@pytest.mark.parametrize("env", ["cases", "alignat", "flalign*", "CD"])
def test_an_environment_that_is_not_read_is_refused_where_it_stands(env):
    with pytest.raises(ReadError) as exc:
        h2(f"\\begin{{{env}}}\nAB = BA\n\\end{{{env}}}")
    assert (exc.value.line, exc.value.col) == (3, 1)


@pytest.mark.parametrize("heading", ["## Claim: $$AB = BA$$", r"## Claim \[AB = BA\]"])
def test_display_math_in_a_heading_is_refused(heading):
    with pytest.raises(ReadError) as exc:
        h2(f"{heading}\n\n$$(AB)^T = B^T A^T$$")
    assert exc.value.line == 3


def test_inline_math_in_a_heading_is_read_like_prose():
    d = h2("## Layer $AB = BA$\n\n$$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {3: "undecided", 5: "verified"}
    assert_verified(check_text("## Let $A \\in \\mathbf{R}^{n \\times n}$\n\n$$(A^T)^T = A$$\n", "t.md"))


def test_inline_paren_delimiters_are_inline_math():
    d = h2(r"Note that \(AB = BA\) holds." + "\n\n$$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {3: "undecided", 5: "verified"}
    assert_verified(check_text("Let \\(A \\in \\mathbf{R}^{n \\times n}\\).\n\n$$(A^T)^T = A$$\n", "t.md"))
    with pytest.raises(ReadError):
        h2(r"Note that \(AB = BA holds.")


def test_bracket_display_is_read_on_one_line_and_across_lines():
    d = h2("So \\[AB = BA\\]\n\n\\[\n(AB)^T\n= BA\n\\]")
    assert lines_of(d) == {3: "failed", 6: "failed"}


@pytest.mark.parametrize("marker", ["1. ", "- ", "10) "])
def test_a_display_in_a_list_item_paragraph_is_read(marker):
    pad = " " * max(len(marker), 4)
    d = h2(f"{marker}Transpose of a product:\n\n{pad}$$AB = BA$$\n\n{marker}Then $$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {5: "failed", 7: "verified"}


def test_code_inside_a_list_item_and_top_level_indented_code_stay_code():
    # four columns past the item's content, or indented code outside any list: code, not read
    d = h2("1. item\n\n           $$AB = BA$$\n\nText.\n\n    $$AB = BA$$\n\n$$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {11: "verified"}


@pytest.mark.parametrize("quote", ["> ", ">", "> > ", "   > "])
def test_blockquote_markers_are_stripped_from_every_line_of_a_display(quote):
    assert_verified(h2(f"{quote}$$\n{quote}(AB)^T = B^T A^T\n{quote}$$"))
    d = h2(f"{quote}$$\n{quote}(AB)^T = B^T A^T \\\\\n{quote}AB = BA\n{quote}$$")
    assert lines_of(d) == {4: "verified", 5: "failed"}


def test_a_fence_inside_a_blockquote_is_code():
    d = h2("> ```\n> $$AB = BA$$\n> ```\n\n$$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {7: "verified"}


LINEAR = (r"Let $x \in \mathbf{R}^n$, $W \in \mathbf{R}^{n \times n}$, $y \in \mathbf{R}^n$ and $L \in \mathbf{R}$.")
LINEAR_GRAD = ("$$y = Wx$$\n\n$$\\Delta y = W(x + \\Delta x) - Wx = W \\Delta x$$\n\n"
               "$$\\Delta L = \\langle \\frac{dL}{dy}, W \\Delta x \\rangle = \\langle W^T \\frac{dL}{dy}, \\Delta x \\rangle$$\n\n"
               "$$\\Rightarrow \\frac{dL}{dx} = W^T \\frac{dL}{dy}$$")


@pytest.mark.parametrize("heading", ["Straightforward variant", "Forwarding", "Feedforward net"])
def test_only_the_word_forward_makes_a_forward_pass_section(heading):
    # a sibling whose heading merely contains "forward" does not override this section's y = Wx
    d = check_text(f"# Linear\n\n{LINEAR}\n\n## {heading}\n\n$$y = W^T x$$\n\n## Input gradient\n\n{LINEAR_GRAD}\n",
                   "t.md")
    # the sibling's y = Wᵀx is used by nothing: reported, undecided (hunt2 08); every other line verifies
    assert all(s.status == "verified" for s in steps(d) if s.line != 7), [(s.line, s.status) for s in steps(d)]
    assert [s.status for s in steps(d) if s.line == 7] == ["undecided"]


def test_a_forward_pass_section_still_feeds_its_siblings():
    grad = LINEAR_GRAD.split("\n\n", 1)[1]
    d = check_text(f"# Linear\n\n{LINEAR}\n\n## Forward pass\n\n$$y = Wx$$\n\n## Backward\n\n{grad}\n", "t.md")
    assert d.status == "verified", [(s.line, s.status) for s in steps(d)]
    d = check_text(f"# Linear\n\n{LINEAR}\n\n## Forward pass\n\n$$y = W^T x$$\n\n## Backward\n\n{grad}\n", "t.md")
    assert d.status == "failed"


def test_an_unused_forward_definition_is_reported_not_checked():
    d = h2("$$A = B^T$$\n\n$$(AB)^T = B^T A^T$$")
    assert lines_of(d) == {3: "undecided", 5: "verified"}
    assert "defines A = B^T, but no derivation uses it" in reasons(d)
    # written as a claim, it is checked and fails
    assert lines_of(h2("$$B^T = A$$")) == {3: "failed"}
    # used by a derivation: nothing is reported
    assert check_text(f"# L\n\n{LINEAR}\n\n{LINEAR_GRAD}\n", "t.md").status == "verified"


def test_an_unused_definition_shows_in_text_and_json_output(tmp_path, capsys):
    p = tmp_path / "u.md"
    p.write_text(f"{H2_DECL}\n\n$$A = B^T$$\n\n$$(AB)^T = B^T A^T$$\n")
    assert main(["check", str(p)]) == 1
    assert "no derivation uses it" in capsys.readouterr().out
    assert main(["check", "--format", "json", str(p)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "no derivation uses it" in json.dumps(out)


def test_an_environment_in_running_text_is_refused_not_skipped():
    with pytest.raises(ReadError) as exc:
        h2(r"So \begin{equation} AB = BA \end{equation} holds.")
    assert (exc.value.line, exc.value.col) == (3, 4)
    # inside inline math or a code span it is not an environment of the text
    assert_verified(h2("Write `\\begin{x}` and $\\begin{pmatrix} A \\end{pmatrix}$.\n\n$$(A^T)^T = A$$"))


@pytest.mark.parametrize("wrong", [
    r"$$(AB) = BA$$",             # a parenthesised product is read, and a false one fails
    r"$$-(AB) = -BA$$",
    r"$$A^TB^T = (AB)^T$$",       # A^TB^T is Aᵀ·Bᵀ = (BA)ᵀ, not (AB)ᵀ
    r"$$x^TA^TB^Tx = x^T(AB)^Tx$$",
])
def test_wrong_twins_of_grouping_and_one_character_superscripts_fail(wrong):
    text = ("# T\n\nLet $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$, "
            f"$x \\in \\mathbf{{R}}^n$.\n\n{wrong}\n")
    (s,) = [s for c in check_text(text, "t.md").claims for s in c.steps]
    assert s.status == "failed" and s.verdict.counterexample is not None


# --- \lVert ... \rVert is the same norm as \| ... \| (it was an internal IndexError) -----------------
@pytest.mark.parametrize("right", [r"\lVert x \rVert^2 = x^T x", r"\lVert A \rVert_F^2 = \langle A, A \rangle",
                                   r"\left\lVert x \right\rVert^2 = \|x\|^2"])
def test_lvert_rvert_norm_reads_as_the_norm(right):
    assert_verified(doc(right))


@pytest.mark.parametrize("wrong", [r"\lVert x \rVert^2 = 2 x^T x", r"\lVert A \rVert_F^2 = \langle A, A^T \rangle",
                                   r"\lVert x \rVert^2 = g^T x"])
def test_lvert_rvert_norm_wrong_twins_fail(wrong):
    d = doc(wrong)
    assert d.status == "failed", [(s.line, s.status, s.verdict and s.verdict.reason) for s in steps(d)]


# --- a non-integer index is outside the index fragment (it was an internal ValueError) --------------
SEQ_DECL = r"Let $x \in \mathbf{R}^{\infty}$ and $w \in \mathbf{R}^{\infty}$."


def test_a_non_integer_index_is_undecided_not_a_crash():
    d = doc(r"\sum_j x_{j+2.5} w_j = \sum_j x_{j} w_j", decl=SEQ_DECL)
    (s,) = steps(d)
    assert s.status == "undecided" and "integer combination" in s.verdict.reason, s.verdict.explain()


def test_an_operator_definition_with_a_non_integer_index_is_located():
    text = f"# T\n\n{SEQ_DECL} Let $y \\in \\mathbf{{R}}^{{\\infty}}$.\n\n$$y = x \\odot w$$\n\n$$y_i := \\sum_j x_{{i+2.5}} w_j$$\n"
    with pytest.raises(ReadError) as exc:
        check_text(text, "t.md")
    assert "t.md:7:" in str(exc.value) and "sums of index names and numbers" in str(exc.value)


# --- \sum_{j} names the same index as \sum_j in an operator definition ------------------------------
BRACED_SUM = r"""# T

Let $x \in \mathbf{R}^{\infty}$, $w \in \mathbf{R}^{\infty}$, $y \in \mathbf{R}^{\infty}$.

$$y = x \odot w$$

$$y_i := \sum_{j} x_{i+j} w_j$$

$$x \odot w = w \odot x$$
"""


@pytest.mark.parametrize("spelling", [r"\sum_{j}", r"\sum_j", r"\sum_{j} "])
def test_a_braced_sum_index_defines_the_operator_like_the_unbraced_one(spelling):
    d = check_text(BRACED_SUM.replace(r"\sum_{j}", spelling), "t.md")
    assert {"operator": r"\odot", "meaning": "corr"}.items() <= d.definitions[0].items()
    (s,) = steps(d)
    assert s.line == 9 and s.status == "failed"  # correlation does not commute


# --- "= 2 = ..." after an unreadable line is shown, not an internal error --------------------------
@pytest.mark.parametrize("first", ["2", r"\frac{1}{2}", r"\sum_j x_j w_j"])
def test_a_continuation_starting_with_a_non_matrix_after_an_unreadable_line_is_reported(first, capsys):
    text = (f"# T\n\n{DECL} Let $w \\in \\mathbf{{R}}^n$.\n\n$$= f = A$$\n\n$$= {first} = 3$$\n")
    d = check_text(text, "t.md")
    assert d.status != "verified"
    by_line = [(s.line, s.status) for s in steps(d)]
    assert (7, "undecided") in by_line and all(st != "verified" for _, st in by_line), by_line
    assert json.dumps(d.to_dict())  # every step can be shown (it was an AttributeError in Step.latex)
    assert "internal error" not in json.dumps(d.to_dict())
