"""The notation gallery of docs/notation.md: every spelling the reader accepts, with what it reads as,
and spellings it refuses, with the message each gets. ``tests/test_notation.py`` checks every row
against the reader and that docs/notation.md is generated from this list (``python
tests/test_notation.py`` rewrites it)."""
from __future__ import annotations

#: the declarations in force for every row
DECLARATIONS = [("x", "n", 1), ("y", "n", 1), ("A", "n", "n"), ("B", "n", "n"), ("W", "m", "n"), ("z", "m", 1),
                ("b", "m", 1), ("lambda", 1, 1), ("L", 1, 1)]
#: operators declared with <!-- symderiv: \circ = hadamard -->
OPERATORS = {"\\circ": "hadamard"}

#: (topic, LaTeX as written, what it reads as in symderiv's plain notation)
ACCEPTED = [
    ("products", r"AB^T", "A·B^T"),
    ("products", r"{AB}^T", "(A·B)^T"),
    ("products", r"A^TB^T", "A^T·B^T"),
    ("products", r"W x + b", "W·x + b"),
    ("products", r"W(x + y)", "W·(x + y)"),
    ("transposes", r"W^T z", "W^T·z"),
    ("transposes", r"W^\top z", "W^T·z"),
    ("transposes", r"W^{\top} z", "W^T·z"),
    ("transposes", r"W^\intercal z", "W^T·z"),
    ("traces and inner products", r"\mathrm{tr}(AB)", "tr(A·B)"),
    ("traces and inner products", r"\operatorname{tr} AB", "tr(A·B)"),
    ("traces and inner products", r"\mathrm{tr}(A) B", "tr(A)·B"),
    ("traces and inner products", r"\langle A, B \rangle", "⟨A, B⟩"),
    ("traces and inner products", r"<A, B>", "⟨A, B⟩"),
    ("traces and inner products", r"x \cdot y", "⟨x, y⟩"),
    ("norms", r"\|x\|^2", "x^T·x"),
    ("norms", r"\|A\|_F^2", "⟨A, A⟩"),
    ("norms", r"\lVert x \rVert^2", "x^T·x"),
    ("perturbations and gradients", r"\Delta x", "Δx"),
    ("perturbations and gradients", r"(\Delta x)^T A", "(Δx)^T·A"),
    ("perturbations and gradients", r"\frac{dL}{dz}", "dL/dz"),
    ("perturbations and gradients", r"\frac{\partial L}{\partial z}", "dL/dz"),
    ("numbers and coefficients", r"\frac{1}{2} x^T x", "(1/2)·x^T·x"),
    ("numbers and coefficients", r"\lambda W", "λ·W"),
    ("numbers and coefficients", r"\frac{1}{n} \mathbf{1}_n^T x", "(1/n)·1_n^T·x"),
    ("numbers and coefficients", r"\frac{x}{\mathbf{1}_n^T x}", "recip(1_n^T·x)·x"),
    ("constants", r"\mathbf{1}_n^T x", "1_n^T·x"),
    ("constants", r"\mathbb{1}_m", "1_m"),
    ("constants", r"I_n x", "I_n·x"),
    ("constants", r"\mathbf{1}^T x", "1_n^T·x"),
    ("constants", r"\mathbf{1}^T W \mathbf{1}", "1_m^T·W·1_n"),
    ("constants", r"I x", "I_n·x"),
    ("constants", r"\mathbf{x}^T \mathbf{y}", "x^T·y"),
    ("entrywise functions", r"\sigma(W x + b)", "σ(W·x + b)"),
    ("entrywise functions", r"\sigma'(z)", "σ'(z)"),
    ("entrywise functions", r"\sigma^{\prime}(z)", "σ'(z)"),
    ("entrywise functions", r"\sigma(z)^T b", "σ(z)^T·b"),
    ("entrywise functions", r"\exp(x)", "exp(x)"),
    ("entrywise functions", r"\log(\mathbf{1}_n^T \exp(x))", "log(1_n^T·exp(x))"),
    ("entrywise functions", r"\tanh(x)", "tanh(x)"),
    ("entrywise functions", r"\operatorname{relu}(z)", "relu(z)"),
    ("entrywise functions", r"\mathrm{ReLU}(z)", "relu(z)"),
    ("entrywise functions", r"\mathrm{softplus}(z)", "softplus(z)"),
    ("entrywise functions", r"\sqrt{x^T x}", "sqrt(x^T·x)"),
    ("entrywise functions", r"\mathrm{softmax}(x)", "softmax(x)"),
    ("entrywise functions", r"x \circ y", "x ∘ y"),
]

#: (LaTeX as written, a phrase of the message it gets)
REFUSED = [
    (r"f(x)", "Function application is not supported yet"),
    (r"\mathbf{1}", "needs its length as a subscript"),
    (r"x - \lambda \mathbf{1}", "not forced by its neighbours"),
    (r"\mathbf{1} b^T", "not forced by its neighbours"),
    (r"\sigma x", "needs its argument in parentheses"),
    (r"\exp x", "needs its argument in parentheses"),
    (r"x \odot y", "has no declared meaning"),
    (r"A \cdot B", "ambiguous"),
    (r"\|A\|_2^2", "only the Frobenius norm"),
    (r"1 2", "two numbers"),
    (r"A 2", "a number written after a factor"),
    (r"\frac{x}{y}", "divides by a scalar only"),
    (r"q", "unknown symbol 'q'"),
    (r"A^3", "unsupported exponent"),
]
