"""Test helpers shared by the suite: synthetic tidy tables, a real SLURM test cluster, an import guard."""
