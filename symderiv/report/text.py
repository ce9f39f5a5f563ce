"""Plain-text output of ``symderiv check``: one line per checked step, then a summary."""
from __future__ import annotations

from symderiv.lang.greek import greek_text
from symderiv.lang.status import Status
from symderiv.report.marks import TEXT_MARKS as marks


def render_check(doc) -> str:
    """One line per checked step: file:line: ✓ rule / ✗ reason, then a summary."""
    lines = []
    counts = {str(s): 0 for s in Status}
    for step, _owner in doc.all_steps():
        st = step.status
        counts[st] += 1
        v = step.verdict
        col = step.col
        head = f"{doc.path}:{step.line}:{col}: {marks[st]} " if col else f"{doc.path}:{step.line}: {marks[st]} "
        text = step.text_override or step.plain()
        if st == "verified":
            order = " (to first order)" if v is not None and v.relation == "first-order" else ""
            lines.append(head + f"{step.rule or 'claim'}{order}{_under(doc, step.line, v)}  {text}")
        else:
            lines.append(head + f"{v.reason or v.method}  [{text}]")
            if v.counterexample is not None:
                lines.append("    counterexample:\n" + v.counterexample.describe("      "))
    for d in doc.derivations:
        j = d.jacobian
        if j is not None:
            grad = f"d{greek_text(d.loss)}/d{greek_text(d.wrt.name)}"
            under = f" under {d.hypothesis_text()}" if j.status == "verified" and "hypotheses" in j.methods else ""
            lines.append(f"{doc.path}: {marks[j.status]} Jacobian cross-check of {d.title}: "
                         f"{grad} = {d.to_dict()['gradient_text']} ({j.status}{under})")
    if doc.nothing_checked:
        lines.append(f"{doc.path}: {doc.nothing_reason} — not verified")
    else:
        lines.append(f"{doc.path}: {counts['verified']} verified, {counts['failed']} failed, "
                     f"{counts['undecided']} undecided ({len(doc.derivations)} derivations, "
                     f"{len(doc.claims)} other statements) — {doc.status}")
    return "\n".join(lines) + "\n"


def gh_data(text: str) -> str:
    """A workflow command's message: %, CR and LF are escaped (GitHub's rule)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(text: str) -> str:
    """A workflow command's property value: also , and : are escaped."""
    return gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(doc) -> str:
    """GitHub Actions workflow commands: an ``::error`` for each failed step and an ``::warning`` for each
    undecided one, at its file, line and column, so a pull request shows the message on the wrong line;
    then a ``::notice`` with the summary. Verified steps print nothing."""
    lines = []
    path = gh_property(doc.path)
    for step, _owner in doc.all_steps():
        if step.status == "verified":
            continue
        v = step.verdict
        kind = "error" if step.status == "failed" else "warning"
        where = f"file={path},line={step.line or 1}" + (f",col={step.col}" if step.col else "")
        title = gh_property(f"symderiv: {step.status}")
        text = f"{v.reason or v.method}  [{step.text_override or step.plain()}]"
        if v.counterexample is not None:
            text += "\ncounterexample:\n" + v.counterexample.describe("  ")
        lines.append(f"::{kind} {where},title={title}::{gh_data(text)}")
    for d in doc.derivations:
        j = d.jacobian
        if j is not None and j.status != "verified":
            kind = "error" if j.status == "failed" else "warning"
            line = next((s.line for s in d.steps if s.kind == "readoff" and s.line), None) or 1
            lines.append(f"::{kind} file={path},line={line},title={gh_property('symderiv: Jacobian cross-check')}::"
                         + gh_data(f"Jacobian cross-check of {d.title}: {j.status}: {j.reason or j.method}"))
    summary = (doc.nothing_reason + " — not verified") if doc.nothing_checked else render_check(doc).splitlines()[-1]
    lines.append(f"::notice file={path}::{gh_data(summary)}")
    return "\n".join(lines) + "\n"


def _under(doc, line: int | None, v) -> str:
    """" (under 1ᵀy = 1)" for a ✓ that needed the hypotheses in force at its line: the ✓ holds only there."""
    if v is None or "hypotheses" not in v.methods:
        return ""
    hyps = doc.hypotheses_at.get(line or 0, ())
    return f" (under {' and '.join(h.text(unicode=True) for h in hyps)})" if hyps else " (under the stated hypotheses)"
