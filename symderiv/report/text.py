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
            lines.append(head + f"{step.rule or 'claim'}{order}  {text}")
        else:
            lines.append(head + f"{v.reason or v.method}  [{text}]")
            if v.counterexample is not None:
                lines.append("    counterexample:\n" + v.counterexample.describe("      "))
    for d in doc.derivations:
        j = d.jacobian
        if j is not None:
            lines.append(f"{doc.path}: {marks[j.status]} Jacobian cross-check of {d.title}: "
                         f"d{greek_text(d.loss)}/d{d.wrt.name} = {d.to_dict()['gradient_text']} ({j.status})")
    if doc.nothing_checked:
        lines.append(f"{doc.path}: {doc.nothing_reason} — not verified")
    else:
        lines.append(f"{doc.path}: {counts['verified']} verified, {counts['failed']} failed, "
                     f"{counts['undecided']} undecided ({len(doc.derivations)} derivations, "
                     f"{len(doc.claims)} other statements) — {doc.status}")
    return "\n".join(lines) + "\n"
