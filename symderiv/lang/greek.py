"""The one Greek-letter table: LaTeX control word ↔ Unicode letter.

Every layer that meets a Greek letter uses this table: the printers (``varphi`` → ``\\varphi`` and
``φ``), the report escaping (``ℓ`` in prose or a title → ``$\\ell$``), and the Markdown reader's
grammar. A letter missing here is missing everywhere, so the four places cannot drift apart.
"""
from __future__ import annotations

import re

#: LaTeX control word (without the backslash) → Unicode letter, in the order LaTeX documents
#: list them. ``varepsilon``/``varphi`` share their Unicode letter with ``epsilon``/``phi``.
GREEK: dict[str, str] = {
    "ell": "ℓ", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "varepsilon": "ε", "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}

#: The control words, for grammars and whitelists (``\\ell``, ``\\varphi`` ...).
GREEK_NAMES: tuple[str, ...] = tuple(GREEK)

#: Unicode letter → control word; where two words share a letter the first one listed wins
#: (``φ`` → ``phi``, ``ε`` → ``epsilon``).
UNICODE_GREEK: dict[str, str] = {}
for _name, _letter in GREEK.items():
    UNICODE_GREEK.setdefault(_letter, _name)

#: Letters the Markdown reader reads as operators, not as symbol names: ``\\Delta x`` is the
#: perturbation of x and ``\\Sigma`` a sum.
GREEK_OPERATORS: frozenset[str] = frozenset({"Delta", "Sigma"})

#: The control words that may name a symbol in a document (the reader's GREEK terminal).
GREEK_SYMBOL_NAMES: tuple[str, ...] = tuple(n for n in GREEK_NAMES if n not in GREEK_OPERATORS)

#: Regular expression (for lark or ``re``) matching one Greek symbol name with its backslash,
#: longest names first (``\\varphi`` before ``\\phi``).
GREEK_TEX_PATTERN = r"\\(" + "|".join(sorted(GREEK_SYMBOL_NAMES, key=lambda n: (-len(n), n))) + r")(?![a-zA-Z])"

_LEADING_WORD = re.compile(r"[A-Za-z]+")


#: A decorated letter's name is ``letter__accent`` (``y__hat`` for \\hat{y}, ``L__cal`` for \\mathcal{L}); the
#: reader makes these names and no other spelling reaches a double underscore.
ACCENT_NAME = re.compile(r"([A-Za-z]+)__(hat|bar|tilde|check|breve|cal)(.*)")
#: the combining mark of each accent, for plain text (ŷ, x̄, x̃)
_ACCENT_MARKS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "check": "\u030c", "breve": "\u0306"}
#: \\mathcal capitals in plain text: the Unicode script letters
_SCRIPT = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "𝒜ℬ𝒞𝒟ℰℱ𝒢ℋℐ𝒥𝒦ℒℳ𝒩𝒪𝒫𝒬ℛ𝒮𝒯𝒰𝒱𝒲𝒳𝒴𝒵"))


def accent_text(letter: str, accent: str) -> str:
    """ŷ for (y, hat), ℒ for (L, cal); a letter with no script form keeps the word: cal(l)."""
    letter = GREEK.get(letter, letter)
    if accent == "cal":
        return _SCRIPT.get(letter, f"cal({letter})")
    return letter + _ACCENT_MARKS[accent]


def greek_text(name: str) -> str:
    """alpha -> α, ell -> ℓ (whole leading word only: 'alpha_1' -> 'α_1', 'beta*' -> 'β*'),
    y__hat -> ŷ, L__cal -> ℒ."""
    a = ACCENT_NAME.fullmatch(name)
    if a:
        return accent_text(a.group(1), a.group(2)) + a.group(3)
    m = _LEADING_WORD.match(name)
    if m and m.group(0) in GREEK:
        return GREEK[m.group(0)] + name[m.end():]
    return name


def greek_latex(letter: str) -> str | None:
    """ℓ -> ``\\ell``, α -> ``\\alpha`` (math mode); None for a character that is not a Greek letter here."""
    name = UNICODE_GREEK.get(letter)
    return None if name is None else "\\" + name
