"""Derivations: rules, Derivation/Step, the derivation engine and the layer catalog."""
