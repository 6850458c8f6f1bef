"""The DARTS search space: genotypes in the DARTS code's own format."""

from ._native import Genotype

__all__ = ["Genotype"]
