"""TRUSTED: verdicts, expansion, index graphs and canonical forms, exact evaluation, the matrix,
sequence and index-sum decisions, the Jacobian cross-check, and one public dispatcher
(:mod:`symderiv.kernel.decide`). Everything that can say "verified" or "failed" lives here."""
