"""2-D correlation layers with channels (PyTorch's conv2d), derived step by step in the seed's style.

y[o, i, j] = Σ_{c,p,q} x[c, s i + o₁ + p, s j + o₂ + q] w[o, c, p, q]. Every step is checked by the kernel's
multi-axis procedure (:mod:`symderiv.kernel.multiaxis`, Theorem G): a proof for every size and channel
count, or an exact counterexample.
"""
from __future__ import annotations

from typing import Any

import sympy

from symderiv.derive.derivation import Derivation, Step, error_verdict, jacobian_fields
from symderiv.derive.rules import rule
from symderiv.kernel.decide import (
    VERIFIED,
    Verdict,
    annotate,
    check_tensor_gradient,
    decide_tensor,
    ill_formed,
)
from symderiv.lang.printing import latex, plain
from symderiv.lang.tensor2d import (
    ChanCorr,
    ChanT,
    Conv2,
    Corr2,
    Expr,
    Inner2,
    Rot180,
    TAdd,
    TensorExpr,
    TExt,
    TScale,
    TShift,
    TSym,
    TWindow,
    Up,
    delta,
    grad,
    has_tdelta,
    shape_text,
    size,
    tsubstitute,
)


@rule("corr-to-conv-2d", "⟨A, B ⋆ C⟩ = ⟨B, A ∗ Cᵀ⟩ in both axes, channel legs transposed",
      r"\langle A, B \star C \rangle = \langle B, A \ast C^{\top_{\mathrm{ch}}} \rangle")
def _corr_to_conv(*a: Any) -> None:
    """Moving the perturbed image out of a correlation: a convolution with the kernel's channel legs swapped."""


@rule("corr-swap-2d", "⟨A, B ⋆ C⟩ = ⟨C, B ⋆ A⟩ in both axes, for every channel pair",
      r"\langle A, B \star C \rangle = \langle C, B \mathbin{\bar\star} A \rangle")
def _corr_swap(*a: Any) -> None:
    """Moving the perturbed kernel out: the correlation of every input channel with every output channel."""


@rule("rotation-180", "convolution as correlation with the kernel rotated by 180 degrees (both axes flipped)",
      r"a \ast K = \tau_{(k_1 - 1,\, k_2 - 1)}\left(a \star \operatorname{rot}_{180} K\right)")
def _rotation(*a: Any) -> None:
    """Convolution as correlation with the kernel rotated by 180° (flipped in both axes, not transposed)."""


@rule("stride-adjoint", "adjoint of the strided window",
      r"\langle g, (s \star K)[o + s\,i] \rangle = \langle \tau_{o} E\, U_s g, s \star K \rangle")
def _stride_adjoint(*a: Any) -> None:
    """⟨g, D_s R s⟩ = ⟨E U_s g, s⟩: decimation's adjoint is upsampling."""


@rule("window-adjoint-2d", "adjoint of the restriction (both axes)",
      r"\langle g, R_{[o,\, o+L-1]}(s) \rangle = \langle \tau_{o} E\,g, s \rangle")
def _window_adjoint(*a: Any) -> None:
    """⟨g, R s⟩ = ⟨τ_o E g, s⟩."""


@rule("dilation-swap", "⟨A, B ⋆ C⟩ = ⟨C, B ⋆ A⟩ per channel pair; a dilation of C becomes a stride",
      r"\langle A, B \star_{d=\delta} C \rangle = \langle C, B \mathbin{\bar\star}_{s=\delta} A \rangle")
def _dilation_swap(*a: Any) -> None:
    """Σ g[i] x[i + δp] Δw[p] = Σ_p Δw[p] (x ⋆ch g)[δp]: the weight gradient of a dilated kernel is a strided
    correlation of every channel pair."""


class TensorDerivation(Derivation):
    """A derivation over images with channels: the same chain of steps, checked by the multi-axis kernel."""

    def __init__(self, title: str, output: TSym, forward: TensorExpr, wrt: TSym, name: str, mode: str,
                 descriptions: dict[str, str]) -> None:
        self.title, self.name, self.mode, self.notation = title, name, mode, "seed"
        self.hypotheses = ()
        self.abbreviations = []
        self.heading = None
        self.remarks: list[dict[str, Any]] = []
        self.output, self.forward, self.wrt = output, forward, wrt  # type: ignore[assignment]
        self.is_loss, self.loss = False, "L"
        self.grad = grad(output)  # type: ignore[assignment]
        self.delta_out = delta(output)  # type: ignore[assignment]
        from symderiv.lang.operators import Sym

        self.delta_loss = Sym("ΔL", 1, 1, kind="delta")
        self.delta_wrt = delta(wrt)  # type: ignore[assignment]
        self.descriptions = descriptions
        self.steps: list[Step] = []
        self.gradient = None
        self.jacobian = None
        self.checked = False

    def read_off(self, gradient: Any, rule: str = "read-off", note: str = "", line: int | None = None) -> Derivation:
        lhs = TSym(self.wrt.name, self.wrt.chans, self.wrt.ext, "grad")  # type: ignore[attr-defined]
        self.steps.append(Step(gradient, lhs, "readoff", rule, note, line))
        return self

    def check(self, budget: Any = None, jacobian: bool = True) -> Derivation:
        prev: Expr | None = None
        self.gradient = None
        for step in self.steps:
            try:
                step.verdict = self._check(step, prev)
            except Exception as exc:  # noqa: BLE001 — every exception becomes a verdict that says what it is
                step.verdict = error_verdict(exc, lhs=step.lhs, rhs=step.rhs)
            if step.kind == "readoff":
                self.gradient = step.rhs
            else:
                prev = step.rhs
        self.jacobian = None
        if jacobian and self.gradient is not None:
            self.jacobian = check_tensor_gradient(self.forward, self.wrt, self.gradient, self.grad)  # type: ignore[arg-type]
        self.checked = True
        return self

    def _value(self, e: Expr) -> Expr:
        """Δy and ΔL replaced by their definitions."""
        if isinstance(e, TSym) and e.kind == "delta" and e.name == self.output.name:
            return self._perturbation()
        from symderiv.lang.operators import Sym

        if isinstance(e, Sym) and e.name == "ΔL":
            return Inner2(self.grad, self._perturbation())  # type: ignore[arg-type]
        return tsubstitute(e, self.output.name, "delta", self._perturbation()) if isinstance(e, TensorExpr) else e

    def _perturbation(self) -> TensorExpr:
        moved = tsubstitute(self.forward, self.wrt.name, "plain", TAdd(self.wrt, self.delta_wrt))  # type: ignore[arg-type]
        assert isinstance(moved, TensorExpr)
        return TAdd(moved, TScale(-1, self.forward))  # type: ignore[arg-type]

    def _check(self, step: Step, prev: Expr | None) -> Verdict:
        if step.kind == "define":
            a, b = self._value(step.lhs), self._value(step.rhs)  # type: ignore[arg-type]
            assert isinstance(a, TensorExpr) and isinstance(b, TensorExpr)
            return annotate(decide_tensor(b, a), method_prefix="compared with the definition: ")
        if prev is None:
            return ill_formed("a continuation line needs a previous line", "chain", rhs=step.rhs)
        a = self._value(prev)
        assert isinstance(a, TensorExpr)
        if step.kind == "readoff":
            if has_tdelta(step.rhs):
                return ill_formed("the gradient still contains a perturbation Δ", "read-off",
                                  lhs=step.lhs, rhs=step.rhs)
            b: Expr = Inner2(step.rhs, self.delta_wrt)  # type: ignore[arg-type]
            assert isinstance(b, TensorExpr)
            return annotate(decide_tensor(a, b),
                            method_prefix=f"the previous line equals ⟨G, Δ{self.wrt.name}⟩ with G free of Δ: ")
        b = self._value(step.rhs)
        assert isinstance(b, TensorExpr)
        return decide_tensor(a, b)

    def symbols(self) -> list[Any]:
        seen: dict[tuple[str, str], TSym] = {}
        for e in [self.output, self.forward] + [s.rhs for s in self.steps]:
            for n in e.walk():
                if isinstance(n, TSym):
                    seen.setdefault((n.name, n.kind), n)
        return list(seen.values())

    def uses_sequences(self) -> bool:
        return True

    def definitions(self) -> list[str]:
        batch = [r"\text{batched: } \star \text{ and } \ast \text{ carry the batch index } n \text{ of } a;\ "
                 r"\mathbin{\bar\star} \text{ sums over it}"] if self.name == "conv2d-batch" else []
        return batch + [
            r"(a \star K)[o, i, j] := \sum_{c, p, q} a[c, i + p, j + q]\, K[o, c, p, q] \quad\text{(correlation)}",
            r"(a \ast K)[o, i, j] := \sum_{c, p, q} a[c, i - p, j - q]\, K[o, c, p, q] \quad\text{(convolution)}",
            r"(a \mathbin{\bar\star} b)[o, c, i, j] := \sum_{p, q} a[c, i + p, j + q]\, b[o, p, q]",
            r"\operatorname{rot}_{180}(w)[o, c, p, q] := w[o, c, k_h - 1 - p, k_w - 1 - q]",
            r"w^{\top_{\mathrm{ch}}}[c, o, p, q] := w[o, c, p, q]",
            r"\langle a, b \rangle := \sum_{\text{all indices}} a\, b",
            r"E\,a \text{: zero-extension to } \mathbb{Z}^2",
            r"(\tau_d a)[\cdot, i, j] := a[\cdot, i - d_1, j - d_2]",
            r"\left(R_{[a_1, b_1] \times [a_2, b_2]}\, s\right)[\cdot, i, j] := s[\cdot, a_1 + i, a_2 + j]",
            r"(U_s a)[\cdot, s i, s j] := a[\cdot, i, j] \text{ (zeros elsewhere)}",
            r"\star_{d=\delta}\text{: the kernel dilated, } K[\cdot, p, q]"
            r"\text{ read at } (i + \delta p,\, j + \delta q)",
            r"\star_{m}\text{: window } (o, L) \text{ per axis of the operator on } \mathbb{Z}^2"
            r"\text{, output } i \mapsto o + s\,i",
            r"\text{valid: } (0,\ \lfloor (n - k')/s \rfloor + 1),\quad \text{full: } (-(k'-1),\ n+k'-1),\quad "
            r"k' = \delta (k - 1) + 1",
            r"\text{same: } (-\lfloor (k'-1)/2 \rfloor,\ n) \quad\text{(PyTorch's padding='same')}",
        ]

    def to_dict(self) -> dict[str, Any]:
        j = self.jacobian
        st = {"notation": self.notation}
        return {
            "title": self.title, "layer": self.name, "mode": self.mode, "wrt": self.wrt.name, "status": self.status,
            "notation": self.notation, "definitions": self.definitions(), "remarks": list(self.remarks),
            "forward": latex(self.output, **st) + " = " + latex(self.forward, **st),
            "gradient": latex(self.gradient, **st) if self.gradient is not None else None,
            "gradient_text": plain(self.gradient, **st) if self.gradient is not None else None,
            **jacobian_fields(j),
            "symbols": [{"name": s.name, "latex": latex(s, **st),
                         "shape": [r" \times ".join(s.chans) or "1", r" \times ".join(sympy.latex(e) for e in s.ext)],
                         "description": self.descriptions.get(plain(s), "")} for s in self.symbols()],
            "steps": [s.to_dict(**st) for s in self.steps],
        }


def _recognise(g: TensorExpr, K: TensorExpr, offset: tuple[Any, Any], length: tuple[Any, Any],
               dilation: tuple[int, int] = (1, 1)) -> TensorExpr | None:
    """R_{[o, o+L)}(E g ⋆ E K) as a named mode, when its window is one."""
    import sympy

    for mode in ("valid", "full", "same"):
        try:
            cand = Corr2(g, K, mode, (1, 1), dilation)
        except Exception:  # noqa: BLE001 — a mode whose shapes do not fit
            continue
        if all(sympy.expand(cand.window(ax)[0] - offset[ax]) == 0 and sympy.expand(cand.window(ax)[1] - length[ax]) == 0
               for ax in (0, 1)):
            return cand
    return None


def derive_conv2d(wrt: str = "x", mode: str = "valid", stride: int = 1, check: bool = True,
                  dilation: int = 1, batch: bool = False) -> TensorDerivation:
    """dL/dx or dL/dw for y = x ⋆ w (PyTorch's conv2d, no bias) with channels, in ``mode`` with ``stride``
    (valid mode) or ``dilation`` (valid mode, stride 1)."""
    if dilation != 1 and (mode != "valid" or stride != 1):
        raise ValueError("a dilation is derived in valid mode with stride 1 only")
    dl = (dilation, dilation)

    H, W, kh, kw = (size(n) for n in ("H", "W", "k_h", "k_w"))
    nb: tuple[str, ...] = ("N",) if batch else ()
    x, w = TSym("x", nb + ("C",), (H, W)), TSym("w", ("O", "C"), (kh, kw))
    s = (stride, stride)
    f = Corr2(x, w, mode, s, dl)
    y = TSym("y", nb + ("O",), f.ext)
    theta = x if wrt == "x" else w
    what = "input gradient (backward pass)" if wrt == "x" else "weight gradient (gradient pass)"
    stride_text = (f", stride {stride}" if stride != 1 else "") + (f", dilation {dilation}" if dilation != 1 else "")
    xshape = "N×C×H×W" if batch else "C×H×W"
    title = (f"2-D correlation with channels (conv2d{', batched' if batch else ''}), {mode} mode{stride_text}, "
             f"x ∈ R^({xshape}), w ∈ R^(O×C×k_h×k_w): "
             f"{what}, dL/d{wrt}")
    desc = {"x": "input image with C channels", "w": "kernel: O output channels × C input channels",
            "y": "output image with O channels", "dL/dy": "upstream gradient of the loss"}
    name_mode = mode + (f"-stride{stride}" if stride != 1 else "") + (f"-dilation{dilation}" if dilation != 1 else "")
    if batch:
        desc = {**desc, "x": "a batch of N input images with C channels", "y": "N output images with O channels"}
    d = TensorDerivation(title, y, f, theta, "conv2d-batch" if batch else "conv2d", name_mode, desc)
    g, dth = d.grad, d.delta_wrt
    assert isinstance(g, TSym) and isinstance(dth, TSym)
    d.steps.append(Step(d._perturbation(), d.delta_out, "define", "perturbation"))
    lin = Corr2(dth, w, mode, s, dl) if wrt == "x" else Corr2(x, dth, mode, s, dl)
    d.steps.append(Step(lin, None, "chain", "expansion"))
    from symderiv.lang.operators import Sym

    d.steps.append(Step(Inner2(g, d.delta_out), Sym("ΔL", 1, 1, kind="delta"), "define", "loss-differential"))
    d.steps.append(Step(Inner2(g, lin), None, "chain", "substitution"))
    A, B = lin.left, lin.right
    o = tuple(lin.window(ax)[0] for ax in (0, 1))
    L = tuple(lin.window(ax)[1] for ax in (0, 1))
    zg: TensorExpr = TExt(g) if stride == 1 else TExt(Up(g, s))
    if any(sympy.expand(v) != 0 for v in o):
        zg = TShift(zg, o)
    onz = Corr2(TExt(A), TExt(B), None, (1, 1), dl)
    if stride == 1:
        d.steps.append(Step(Inner2(g, TWindow(onz, o, L)), None, "chain", "mode-definition"))
        d.steps.append(Step(Inner2(zg, onz), None, "chain", "window-adjoint-2d"))
    else:
        d.steps.append(Step(Inner2(zg, onz), None, "chain", "stride-adjoint"))
    if wrt == "w" and dilation != 1:
        G = ChanCorr(x, g, "valid", dl)
        d.steps.append(Step(Inner2(dth, G), None, "chain", "dilation-swap"))
    elif wrt == "x":
        moved = Conv2(zg, ChanT(TExt(w)), None, (1, 1), dl)
        d.steps.append(Step(Inner2(TExt(dth), moved), None, "chain", "corr-to-conv-2d"))
        restricted = TWindow(moved, (0, 0), (H, W))
        d.steps.append(Step(Inner2(dth, restricted), None, "chain", "support-restriction"))
        shift = tuple(sympy.expand((v if v is not None else 0) + dilation * (k - 1)) for v, k in zip(
            (o[0] if stride == 1 else 0, o[1] if stride == 1 else 0), (kh, kw)))
        gz: TensorExpr = TExt(g) if stride == 1 else TExt(Up(g, s))
        rot = TWindow(Corr2(gz, TExt(ChanT(Rot180(w))), None, (1, 1), dl), (-shift[0], -shift[1]), (H, W))
        d.steps.append(Step(Inner2(dth, rot), None, "chain", "rotation-180"))
        G: TensorExpr = rot
        named = _recognise(g if stride == 1 else Up(g, s), ChanT(Rot180(w)), (-shift[0], -shift[1]), (H, W), dl)
        if named is not None:
            d.steps.append(Step(Inner2(dth, named), None, "chain", "mode-recognition"))
            G = named
    else:
        moved2 = ChanCorr(TExt(x), zg)
        d.steps.append(Step(Inner2(TExt(dth), moved2), None, "chain", "corr-swap-2d"))
        G = TWindow(moved2, (0, 0), (kh, kw))
        d.steps.append(Step(Inner2(dth, G), None, "chain", "support-restriction"))
        if stride == 1 and all(sympy.expand(v) == 0 for v in o):
            named2 = ChanCorr(x, g, "valid")
            d.steps.append(Step(Inner2(dth, named2), None, "chain", "mode-recognition"))
            G = named2
    d.steps.append(Step(Inner2(G, dth), None, "chain", "inner-symmetry"))
    d.steps.append(Step(Inner2(G, dth), d.delta_loss, "chain", "restate"))
    d.read_off(G)
    if check:
        d.check()
    return d


def describe_shape(e: TensorExpr) -> str:
    return shape_text(e)


def status_ok(d: TensorDerivation) -> bool:
    return d.status == VERIFIED
